# The CPU half of libtorch, for a build without the CUDA kernels: defines the imported target
# fast_rnnt::torch_cpu (torch's headers, libtorch_cpu, libc10 and torch's C++ ABI flag) and the
# variables TORCH_INSTALL_PREFIX, Torch_VERSION and TORCH_CXX_FLAGS, as torch's own CMake config
# would.
#
# Why not find_package(Torch): the CMake config of a CUDA build of torch needs a CUDA toolkit of
# the version torch was built with (nvcc, nvrtc, cuBLAS headers, ...), even when nothing of ours
# uses CUDA. A CPU-only build must work on any machine, whatever its toolkit, so it reads
# torch's files directly, like torch.utils.cpp_extension does for a CPU extension.
#
# Torch is found like find_package(Torch) finds it: Torch_DIR, or CMAKE_PREFIX_PATH (the CMake
# variable or the environment variable) holding torch.utils.cmake_prefix_path or torch's prefix.
if(TARGET fast_rnnt::torch_cpu)
  return()
endif()

find_path(FAST_RNNT_TORCH_CONFIG_DIR NAMES TorchConfig.cmake
          HINTS ${Torch_DIR} ENV Torch_DIR
          PATHS ${CMAKE_PREFIX_PATH} ENV CMAKE_PREFIX_PATH
          PATH_SUFFIXES Torch share/cmake/Torch
          NO_DEFAULT_PATH)
if(NOT FAST_RNNT_TORCH_CONFIG_DIR)
  message(FATAL_ERROR "fast_rnnt: torch not found: add torch.utils.cmake_prefix_path to "
          "CMAKE_PREFIX_PATH (python -c 'import torch; print(torch.utils.cmake_prefix_path)') "
          "or set Torch_DIR")
endif()
get_filename_component(TORCH_INSTALL_PREFIX "${FAST_RNNT_TORCH_CONFIG_DIR}/../../.." ABSOLUTE)

file(STRINGS "${FAST_RNNT_TORCH_CONFIG_DIR}/TorchConfigVersion.cmake" _version_line
     REGEX "set\\(PACKAGE_VERSION \"[^\"]+\"\\)")
string(REGEX REPLACE ".*\"([^\"]+)\".*" "\\1" Torch_VERSION "${_version_line}")

# Older torch wheels were built with the pre-C++11 std::string ABI, and their TorchConfig.cmake
# states the flag (TORCH_CXX_FLAGS); recent ones use the default ABI and state nothing.
file(STRINGS "${FAST_RNNT_TORCH_CONFIG_DIR}/TorchConfig.cmake" _abi_line
     REGEX "_GLIBCXX_USE_CXX11_ABI=[01]")
set(_abi_definitions "")
if(_abi_line MATCHES "_GLIBCXX_USE_CXX11_ABI=([01])")
  set(_abi_definitions "_GLIBCXX_USE_CXX11_ABI=${CMAKE_MATCH_1}")
  set(TORCH_CXX_FLAGS "-D${_abi_definitions}")
endif()

set(_libraries "")
foreach(lib IN ITEMS torch_cpu c10)
  find_library(FAST_RNNT_TORCH_${lib}_LIBRARY ${lib} PATHS "${TORCH_INSTALL_PREFIX}/lib" NO_DEFAULT_PATH)
  if(NOT FAST_RNNT_TORCH_${lib}_LIBRARY)
    message(FATAL_ERROR "fast_rnnt: lib${lib} not found in ${TORCH_INSTALL_PREFIX}/lib")
  endif()
  list(APPEND _libraries "${FAST_RNNT_TORCH_${lib}_LIBRARY}")
endforeach()

add_library(fast_rnnt::torch_cpu INTERFACE IMPORTED)
set_target_properties(fast_rnnt::torch_cpu PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES
    "${TORCH_INSTALL_PREFIX}/include;${TORCH_INSTALL_PREFIX}/include/torch/csrc/api/include"
  INTERFACE_COMPILE_DEFINITIONS "${_abi_definitions}"
  INTERFACE_LINK_LIBRARIES "${_libraries}")
message(STATUS "fast_rnnt: torch ${Torch_VERSION} (CPU libraries only) in ${TORCH_INSTALL_PREFIX}")
unset(_version_line)
unset(_abi_line)
unset(_abi_definitions)
unset(_libraries)
