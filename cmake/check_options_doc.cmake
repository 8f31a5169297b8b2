# Fails when docs/OPTIONS.md differs from what hs_opts_doc generates from
# the option table (regenerate: build/alloc/hs_opts_doc > docs/OPTIONS.md).
execute_process(COMMAND ${GEN} OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "hs_opts_doc failed: ${rc}")
endif()
file(READ ${DOC} current)
if(NOT generated STREQUAL current)
  message(FATAL_ERROR "docs/OPTIONS.md is stale: regenerate it with "
                      "build/alloc/hs_opts_doc > docs/OPTIONS.md")
endif()
message(STATUS "docs/OPTIONS.md matches the option table")
