# CI check of the CMake package: installs the "tilefuse" component of a build tree into a fresh
# prefix, configures and builds examples/causal_attention against it with find_package(tilefuse),
# and (with -DRUN=ON) runs it on a small problem. Without a GPU the example prints
# "SKIPPED: no GPU (...)" and exits 77; the ctest entry maps that to Skipped.
#
#   cmake -DBUILD_DIR=<build tree> -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> [-DRUN=ON]
#         [-DCUDAToolkit_ROOT=...] -P examples/check_example.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_example.cmake: -D${var}=... is required")
  endif()
endforeach()
set(prefix ${WORK_DIR}/prefix)
set(build ${WORK_DIR}/build)

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

if(NOT RUN)
  file(REMOVE_RECURSE ${WORK_DIR})
  run_step("install component tilefuse into ${prefix}"
    ${CMAKE_COMMAND} --install ${BUILD_DIR} --component tilefuse --prefix ${prefix})
  foreach(f include/tilefuse/tilefuse.h include/tilefuse/tilefuse_c.h lib/cmake/tilefuse/tilefuseConfig.cmake
            share/tilefuse/device/tilefuse/device.cuh share/tilefuse/specs/causal.json)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "the install lacks ${f}")
    endif()
  endforeach()
  set(cuda_args)
  if(CUDAToolkit_ROOT)
    set(cuda_args -DCUDAToolkit_ROOT=${CUDAToolkit_ROOT})
  endif()
  run_step("configure the example with find_package(tilefuse)"
    ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/causal_attention -B ${build} -G Ninja
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release ${cuda_args})
  run_step("build the example" ${CMAKE_COMMAND} --build ${build})
else()
  # A small causal problem: B=1, H=4, S=512, D=64.
  execute_process(COMMAND ${build}/causal_attention ${prefix}/share/tilefuse/specs/causal.json 1 4 512 64
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${out}${err}")
  if(rc EQUAL 77)
    message(STATUS "SKIPPED: no GPU")
  elseif(NOT rc EQUAL 0)
    message(FATAL_ERROR "the example failed (${rc})")
  endif()
endif()
