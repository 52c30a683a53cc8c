# Tests of the runtime library (libtilefuse), included by runtime/CMakeLists.txt. Sources live with
# the other GPU tests (tests/gpu/test_generated_*.cpp) and reuse their support library.
#   tilefuse_runtime_api_tests     CPU (CI): Params packing vs codegen::packParams, no allocation in the
#                                  launch path, launch errors, every spec to CUBIN, no-GPU errors; run-time
#                                  block masks: which kernels get one, their ABI, the host reference
#   tilefuse_spill_tests           CPU (CI): every spec for sm_80 (sm80 backend) and sm_90a (sm90 backend)
#                                  compiles with 0 spill bytes and 0 stack frame (NVRTC -Xptxas=-v log)
#   tilefuse_generated_gpu_tests   [gpu]: the generated-kernel sweep against fp64, the Engine and C API
#                                  on a GPU; exit 77 (ctest: Skipped) without a GPU
#   runtime.example-*              the CMake package: install, find_package + build examples/, run it
set(TILEFUSE_GPU_TESTS_DIR ${PROJECT_SOURCE_DIR}/tests/gpu)

add_library(tilefuse_generated_test_support STATIC ${TILEFUSE_GPU_TESTS_DIR}/test_generated_reference.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/BlockMaskReference.cpp)
target_include_directories(tilefuse_generated_test_support PUBLIC ${TILEFUSE_GPU_TESTS_DIR})
target_link_libraries(tilefuse_generated_test_support PUBLIC tilefuse_engine tilefuse_gpu_test_support
  PRIVATE tilefuse_warnings)
target_compile_definitions(tilefuse_generated_test_support PUBLIC TILEFUSE_SPECS_DIR="${PROJECT_SOURCE_DIR}/specs")

add_executable(tilefuse_runtime_api_tests ${TILEFUSE_GPU_TESTS_DIR}/test_generated_launch_abi.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/test_block_mask_cpu.cpp)
target_include_directories(tilefuse_runtime_api_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/lib)
target_link_libraries(tilefuse_runtime_api_tests PRIVATE tilefuse_generated_test_support Catch2::Catch2WithMain
  tilefuse_warnings)
catch_discover_tests(tilefuse_runtime_api_tests TEST_PREFIX "runtime: " PROPERTIES LABELS cpu TIMEOUT 600)

add_executable(tilefuse_generated_gpu_tests
  ${TILEFUSE_GPU_TESTS_DIR}/gpu_main.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/test_generated_attention.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/test_generated_engine.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/test_block_mask.cpp
  ${TILEFUSE_GPU_TESTS_DIR}/test_varlen.cpp)
# The cached-CUBIN tests store entries with the tuner's Cache and read them through the library's
# CacheScheduleSource (lib/CacheScheduleSource.h; the symbols are in libtilefuse.so).
target_include_directories(tilefuse_generated_gpu_tests PRIVATE ${PROJECT_SOURCE_DIR}/tuner/include
  ${CMAKE_CURRENT_SOURCE_DIR}/lib)
target_link_libraries(tilefuse_generated_gpu_tests PRIVATE tilefuse_generated_test_support tilefuse_warnings)
catch_discover_tests(tilefuse_generated_gpu_tests TEST_PREFIX "gpu: "
  PROPERTIES SKIP_RETURN_CODE 77 LABELS gpu TIMEOUT 900)

add_test(NAME runtime.example-builds-against-install
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DWORK_DIR=${CMAKE_BINARY_DIR}/example-check -DCUDAToolkit_ROOT=${CUDAToolkit_ROOT}
          -P ${PROJECT_SOURCE_DIR}/examples/check_example.cmake)
set_tests_properties(runtime.example-builds-against-install PROPERTIES
  LABELS cpu TIMEOUT 600 FIXTURES_SETUP tilefuse_example)
add_test(NAME runtime.example-runs
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DWORK_DIR=${CMAKE_BINARY_DIR}/example-check -DRUN=ON
          -P ${PROJECT_SOURCE_DIR}/examples/check_example.cmake)
set_tests_properties(runtime.example-runs PROPERTIES
  LABELS gpu TIMEOUT 600 FIXTURES_REQUIRED tilefuse_example SKIP_REGULAR_EXPRESSION "SKIPPED: no GPU")

# CPU (CI): every shipped spec (specs/, specs/models/) at its head dim, for the sm80 backend (sm_80) and
# the sm90 backend (sm_90a), through the Engine's heuristic schedule and NVRTC: 0 spills, 0 stack frame.
add_executable(tilefuse_spill_tests ${TILEFUSE_GPU_TESTS_DIR}/test_spec_spills.cpp)
target_include_directories(tilefuse_spill_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/lib)
target_link_libraries(tilefuse_spill_tests PRIVATE tilefuse_generated_test_support Catch2::Catch2WithMain
  tilefuse_warnings)
catch_discover_tests(tilefuse_spill_tests TEST_PREFIX "spills: " PROPERTIES LABELS cpu TIMEOUT 900)
