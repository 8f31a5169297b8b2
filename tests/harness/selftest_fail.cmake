# selftest_fail.cmake — runs the deliberately failing harness program and
# checks that it exits non-zero and reports each failure with its location
# and both values.  Usage: cmake -DPROG=<path> -P selftest_fail.cmake
execute_process(COMMAND ${PROG} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "failing test program exited 0")
endif()
foreach(want
    "fails_u64 ... FAILED"
    "selftest_fail.c:15"
    "12345"
    "54321"
    "fails_str ... FAILED"
    "\"left-marker\""
    "\"right-marker\""
    "fails_ptr ... FAILED"
    "0xabcdef0"
    "assert_returns ... FAILED"
    "passes ... ok"
    "5 tests, 1 passed, 4 failed")
  string(FIND "${out}" "${want}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "output lacks: ${want}")
  endif()
endforeach()
string(FIND "${out}" "not reached" pos)
if(NOT pos EQUAL -1)
  message(FATAL_ERROR "HS_ASSERT_TRUE did not return from the test")
endif()
