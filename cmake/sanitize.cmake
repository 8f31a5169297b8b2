# cmake/sanitize.cmake — HS_SANITIZE: sanitizer builds of the parts that can
# take one, in build trees of their own (scripts/sanitize.sh configures
# build-asan and build-tsan, builds only the targets named below plus what
# their tests run, and runs their tests).  Included at the end of the
# top-level CMakeLists.txt, when every target exists.
#
#   address,undefined  the heapsight command (hs_cli) and the renderers it
#                      links (hs_viz): ASan, LeakSanitizer and UBSan, on the
#                      C library's malloc.  hs_cli_proto (generated tables;
#                      the code that walks them is libprotobuf-c's) and the
#                      test programs of tests/cli stay as they are.  libheapsight.so is
#                      never built with ASan (it replaces malloc): the CLI
#                      tests that preload it get the ordinary library.
#   thread             hs_core (every allocator module), the harness and the
#                      allocator's unit tests (tests/unit, unit_* targets of
#                      that folder itself): ThreadSanitizer.  Which of those
#                      tests TSan runs, and why, is in scripts/sanitize.sh.
#                      Whatever links hs_core in this tree is TSan'd too,
#                      libheapsight.so included: build unit_* targets only.
#
# Every error is fatal (-fno-sanitize-recover=all).  Run-time defaults are
# compiled into each sanitized program (sanitize_defaults.c), so they hold
# even where a test driver clears the environment: reports go to files
# under <build>/sanitizer-logs/, which scripts/sanitize.sh checks are
# absent after the run (a report fails the run even when the test that
# caused it expected a non-zero exit).  ASAN_OPTIONS, UBSAN_OPTIONS and
# TSAN_OPTIONS still override them, e.g. log_path=stderr by hand.
if(HS_SANITIZE STREQUAL "")
  return()
elseif(HS_SANITIZE STREQUAL "address,undefined")
  set(HS_SANITIZE_FLAGS -fsanitize=address,undefined)
  # gcc's UBSan as a shared library beside ASan's ignores log_path (its
  # reports would go to stderr only); linked in statically, each runtime
  # reads its own options.
  set(HS_SANITIZE_LINK_FLAGS -static-libasan -static-libubsan)
  set(HS_SANITIZE_TARGETS hs_cli hs_viz)
  # The programs that get the defaults (the libraries are linked into them).
  set(HS_SANITIZE_PROGRAMS hs_cli)
elseif(HS_SANITIZE STREQUAL "thread")
  if(NOT HS_BUILD_TESTS)
    message(FATAL_ERROR "HS_SANITIZE=thread instruments the unit tests: "
                        "it needs HS_BUILD_TESTS=ON")
  endif()
  set(HS_SANITIZE_FLAGS -fsanitize=thread)
  get_property(HS_UNIT_TARGETS DIRECTORY ${CMAKE_SOURCE_DIR}/tests/unit
               PROPERTY BUILDSYSTEM_TARGETS)
  list(FILTER HS_UNIT_TARGETS INCLUDE REGEX "^unit_")
  set(HS_SANITIZE_TARGETS hs_core hs_test ${HS_UNIT_TARGETS})
  set(HS_SANITIZE_PROGRAMS ${HS_UNIT_TARGETS})
else()
  message(FATAL_ERROR "HS_SANITIZE='${HS_SANITIZE}': expected "
                      "'address,undefined', 'thread' or empty")
endif()
message(STATUS "heapsight: HS_SANITIZE=${HS_SANITIZE} for "
               "${HS_SANITIZE_TARGETS}")

list(APPEND HS_SANITIZE_FLAGS -fno-sanitize-recover=all
     -fno-omit-frame-pointer)
set(HS_SANITIZE_LOG_DIR ${CMAKE_BINARY_DIR}/sanitizer-logs)
file(MAKE_DIRECTORY ${HS_SANITIZE_LOG_DIR})
add_library(hs_sanitize_defaults OBJECT
            ${CMAKE_CURRENT_LIST_DIR}/sanitize_defaults.c)
target_compile_definitions(hs_sanitize_defaults PRIVATE
  HS_SANITIZE_LOG="${HS_SANITIZE_LOG_DIR}/report")
foreach(t ${HS_SANITIZE_TARGETS})
  target_compile_options(${t} PRIVATE ${HS_SANITIZE_FLAGS})
  # PUBLIC: a program linking a sanitized library links the runtime too.
  target_link_options(${t} PUBLIC ${HS_SANITIZE_FLAGS}
                      ${HS_SANITIZE_LINK_FLAGS})
endforeach()
foreach(t ${HS_SANITIZE_PROGRAMS})
  target_sources(${t} PRIVATE $<TARGET_OBJECTS:hs_sanitize_defaults>)
endforeach()
