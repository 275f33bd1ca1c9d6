# LibTorch from pip's `torch` wheel: the one engine we build against (DESIGN.md §8).
#
# installer/bootstrap-torch.sh makes a virtual environment with torch (CPU build where there is no
# NVIDIA GPU, CUDA build where there is) and installer/build.sh hands its interpreter to CMake as
# RLHF_TORCH_PYTHON. CMake asks that interpreter for torch.utils.cmake_prefix_path and finds
# TorchConfig.cmake there. An explicit Torch_DIR wins over all of this.
#
# Minimum: LibTorch 2.4 (the device-generic autocast API, at::scaled_dot_product_attention, c10d
# Backend). Tested: 2.13.0 CPU (CI builds and runs every test), 2.14.1 CUDA (CI compiles it).
set(RLHF_TORCH_MIN_VERSION 2.4)
set(RLHF_TORCH_PYTHON "$ENV{RLHF_TORCH_PYTHON}" CACHE FILEPATH
    "Python interpreter of the virtual environment that holds pip's torch (installer/bootstrap-torch.sh)")

if(NOT Torch_DIR)
  if(NOT RLHF_TORCH_PYTHON)
    message(FATAL_ERROR
      "LibTorch: no torch found. Run installer/bootstrap-torch.sh (it makes a virtual environment "
      "with pip's torch) and configure with -DRLHF_TORCH_PYTHON=<venv>/bin/python, or pass "
      "-DTorch_DIR=<.../torch/share/cmake/Torch>.")
  endif()
  execute_process(
    COMMAND ${RLHF_TORCH_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _rlhf_torch_prefix ERROR_VARIABLE _rlhf_torch_err
    RESULT_VARIABLE _rlhf_torch_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _rlhf_torch_rc EQUAL 0)
    message(FATAL_ERROR "LibTorch: ${RLHF_TORCH_PYTHON} cannot import torch: ${_rlhf_torch_err}")
  endif()
  list(PREPEND CMAKE_PREFIX_PATH "${_rlhf_torch_prefix}")
  # A CUDA wheel's own CUDA libraries (nvrtc, cudart, cuBLAS…) lie beside it in site-packages/
  # nvidia/*/lib; TorchConfig links nvrtc by name, which a bare toolkit may not have.
  file(GLOB _rlhf_nvrtc "${_rlhf_torch_prefix}/../../../nvidia/*/lib/libnvrtc.so*"
                        "${_rlhf_torch_prefix}/../../../nvidia/cuda_nvrtc/lib/libnvrtc.so*")
  list(FILTER _rlhf_nvrtc EXCLUDE REGEX "builtins|alt")
  if(_rlhf_nvrtc AND NOT CUDA_nvrtc_LIBRARY)
    list(GET _rlhf_nvrtc 0 _rlhf_nvrtc)
    get_filename_component(_rlhf_nvrtc "${_rlhf_nvrtc}" REALPATH)
    set(CUDA_nvrtc_LIBRARY "${_rlhf_nvrtc}" CACHE FILEPATH "nvrtc (from the torch wheel's nvidia libraries)")
  endif()
endif()

# A CUDA wheel's TorchConfig finds the toolkit through CMake's old FindCUDA, which guesses the
# root from nvcc's folder (wrong when nvcc is a wrapper in /usr/local/bin). Unless the caller chose,
# take $CUDA_HOME, else /usr/local/cuda, else the folder above nvcc's.
if(NOT CUDA_TOOLKIT_ROOT_DIR)
  set(_rlhf_cuda_root "")
  if(DEFINED ENV{CUDA_HOME} AND EXISTS "$ENV{CUDA_HOME}/include/cuda_runtime.h")
    set(_rlhf_cuda_root "$ENV{CUDA_HOME}")
  elseif(EXISTS /usr/local/cuda/include/cuda_runtime.h)
    set(_rlhf_cuda_root /usr/local/cuda)
  else()
    find_program(RLHF_NVCC nvcc)
    if(RLHF_NVCC)
      get_filename_component(_rlhf_cuda_root "${RLHF_NVCC}" REALPATH)
      get_filename_component(_rlhf_cuda_root "${_rlhf_cuda_root}" DIRECTORY)
      get_filename_component(_rlhf_cuda_root "${_rlhf_cuda_root}" DIRECTORY)
    endif()
  endif()
  if(_rlhf_cuda_root)
    set(CUDA_TOOLKIT_ROOT_DIR "${_rlhf_cuda_root}")
    set(CUDAToolkit_ROOT "${_rlhf_cuda_root}")
  endif()
endif()

# A CUDA wheel's TorchConfig looks for the CUDA toolkit (nvcc, cuBLAS, cuDNN headers). Compile for
# the Ampere and Hopper data-centre GPUs our users run unless the caller chose.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} AND NOT TORCH_CUDA_ARCH_LIST)
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
endif()

# TorchConfig appends -D_GLIBCXX_USE_CXX11_ABI=1 to CMAKE_CXX_FLAGS globally; pip's wheels use the
# new ABI, GCC's default, so Qt's and our objects agree with it.
find_package(Torch REQUIRED)
if(Torch_VERSION VERSION_LESS RLHF_TORCH_MIN_VERSION)
  message(FATAL_ERROR
    "LibTorch ${Torch_VERSION} at ${Torch_DIR} is too old: RLHF Workbench needs LibTorch "
    ">= ${RLHF_TORCH_MIN_VERSION} (pip's torch 2.x; installer/bootstrap-torch.sh installs one).")
endif()

set(RLHF_TORCH_CUDA OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES)
  set(RLHF_TORCH_CUDA ON)
endif()
# The CUDA headers LibTorch's own headers include (cusparse.h, cublas_v2.h, nccl.h, cudnn.h) come
# with the wheel's nvidia-* packages; a toolkit may lack some (a minimal CUDA 13 install has no
# cuSPARSE headers). After the toolkit's own include folder, so the toolkit wins where it has them.
if(RLHF_TORCH_CUDA)
  file(GLOB RLHF_TORCH_NVIDIA_INCLUDE_DIRS "${Torch_DIR}/../../../../nvidia/*/include")
  if(RLHF_TORCH_NVIDIA_INCLUDE_DIRS AND TARGET torch)
    set_property(TARGET torch APPEND PROPERTY INTERFACE_SYSTEM_INCLUDE_DIRECTORIES ${RLHF_TORCH_NVIDIA_INCLUDE_DIRS})
    set_property(TARGET torch APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES ${RLHF_TORCH_NVIDIA_INCLUDE_DIRS})
  endif()
endif()
message(STATUS "LibTorch ${Torch_VERSION} (CUDA compiled in: ${RLHF_TORCH_CUDA}) at ${Torch_DIR}")
message(STATUS "LibTorch libraries: ${TORCH_LIBRARIES}")
