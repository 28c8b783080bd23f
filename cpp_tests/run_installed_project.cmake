# ctest driver: install the freshly built package into a scratch prefix, then configure, build
# and run an out-of-tree project against it. Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR,
# EXECUTABLE (with its arguments), PREFIX_PATH (torch's), FORWARD_ARGS (the CUDA toolkit hints
# torch's CMake config needs); lists '|'-separated.
set(prefix "${WORK_DIR}/prefix")
string(REPLACE "|" ";" EXECUTABLE "${EXECUTABLE}")
string(REPLACE "|" ";" FORWARD_ARGS "${FORWARD_ARGS}")
file(REMOVE_RECURSE "${WORK_DIR}")
# Search paths through the environment (':'-separated), so no list survives argument splitting.
string(REPLACE ";" ":" _torch_paths "${PREFIX_PATH}")
set(ENV{CMAKE_PREFIX_PATH} "${prefix}:${_torch_paths}")
foreach(step IN ITEMS install configure build run)
  if(step STREQUAL "install")
    set(cmd ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
  elseif(step STREQUAL "configure")
    set(cmd ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G Ninja ${FORWARD_ARGS})
  elseif(step STREQUAL "build")
    set(cmd ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
  else()
    list(POP_FRONT EXECUTABLE program)
    set(cmd "${WORK_DIR}/build/${program}" ${EXECUTABLE})
  endif()
  execute_process(COMMAND ${cmd} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer ${step} failed (${rc})")
  endif()
endforeach()
