# Runs `hoplite --check -c CONFIG` and asserts its exit code and, optionally, a piece of stderr.
# Usage: cmake -DHOPLITE=... -DCONFIG=... -DEXPECT_EXIT=0|2 [-DEXPECT_STDERR=text] -P check_config.cmake
execute_process(
  COMMAND "${HOPLITE}" --check -c "${CONFIG}"
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 30)
if(NOT "${exit_code}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "hoplite --check -c ${CONFIG} exited ${exit_code}, expected ${EXPECT_EXIT}\n"
                      "stdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED EXPECT_STDERR)
  string(FIND "${err}" "${EXPECT_STDERR}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "stderr of hoplite --check -c ${CONFIG} does not mention\n  ${EXPECT_STDERR}\n"
                        "stderr:\n${err}")
  endif()
endif()
