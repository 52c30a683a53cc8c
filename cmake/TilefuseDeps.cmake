# Finds every prerequisite and, when one is missing, names it and says how to get it.
#
# Debian packages (installed by tools/install-deps.sh):
#   libmlir-19-dev mlir-19-tools llvm-19-dev llvm-19-tools libfmt-dev libcli11-dev
#   nlohmann-json3-dev catch2 ninja-build
# The CUDA Toolkit (NVRTC and the driver API headers) is found through CUDAToolkit_ROOT
# or /usr/local/cuda. libcuda is never linked: the driver is dlopen'ed at run time.

function(tilefuse_missing what how)
  message(FATAL_ERROR "Tilefuse: missing prerequisite: ${what}.\n  ${how}")
endfunction()

set(TILEFUSE_INSTALL_HINT "Run `bash tools/install-deps.sh` (apt-get installs the Debian packages).")

# TILEFUSE_RUNTIME_ONLY (GPU machines without the Debian packages): only CUDA and Catch2 are needed.
if(NOT TILEFUSE_RUNTIME_ONLY)
if(NOT MLIR_DIR AND EXISTS /usr/lib/llvm-19/lib/cmake/mlir)
  set(MLIR_DIR /usr/lib/llvm-19/lib/cmake/mlir)
endif()
find_package(MLIR CONFIG QUIET)
if(NOT MLIR_FOUND)
  tilefuse_missing("MLIR 19 (Debian: libmlir-19-dev mlir-19-tools llvm-19-dev)" "${TILEFUSE_INSTALL_HINT}")
endif()
list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)
include_directories(SYSTEM ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
link_directories(${LLVM_BUILD_LIBRARY_DIR})
add_definitions(${LLVM_DEFINITIONS})

find_package(fmt QUIET)
if(NOT fmt_FOUND)
  tilefuse_missing("fmt (Debian: libfmt-dev)" "${TILEFUSE_INSTALL_HINT}")
endif()
find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  tilefuse_missing("CLI11 (Debian: libcli11-dev)" "${TILEFUSE_INSTALL_HINT}")
endif()
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  tilefuse_missing("nlohmann/json 3 (Debian: nlohmann-json3-dev)" "${TILEFUSE_INSTALL_HINT}")
endif()
endif() # NOT TILEFUSE_RUNTIME_ONLY
find_package(Catch2 2 QUIET)
if(NOT Catch2_FOUND)
  tilefuse_missing("Catch2 2 (Debian: catch2)" "${TILEFUSE_INSTALL_HINT}")
endif()
include(Catch)

if(NOT CUDAToolkit_ROOT AND DEFINED ENV{CUDAToolkit_ROOT})
  set(CUDAToolkit_ROOT "$ENV{CUDAToolkit_ROOT}")
endif()
if(NOT CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND OR NOT TARGET CUDA::nvrtc)
  tilefuse_missing("the CUDA Toolkit (NVRTC and cuda.h; not a Debian package)"
    "Install NVIDIA's CUDA Toolkit 12 or newer and point CUDAToolkit_ROOT at it (default /usr/local/cuda).")
endif()

if(NOT TILEFUSE_RUNTIME_ONLY)
set(LLVM_LIT "/usr/lib/llvm-19/build/utils/lit/lit.py" CACHE FILEPATH "lit.py")
set(LLVM_TOOLS_DIR "/usr/lib/llvm-19/bin" CACHE PATH "FileCheck, not, count")
if(NOT EXISTS "${LLVM_LIT}" OR NOT EXISTS "${LLVM_TOOLS_DIR}/FileCheck")
  tilefuse_missing("lit and FileCheck (Debian: llvm-19-tools)" "${TILEFUSE_INSTALL_HINT}")
endif()
endif() # NOT TILEFUSE_RUNTIME_ONLY

# Project-wide warnings for our own targets (not LLVM's HandleLLVMOptions, see TOOLCHAIN.md).
add_library(tilefuse_warnings INTERFACE)
target_compile_options(tilefuse_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
