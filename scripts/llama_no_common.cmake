# Included by CMake right after llama.cpp's project() when scripts/setup.sh builds llama-cpp-python
# (CMAKE_PROJECT_llama.cpp_INCLUDE): llama-cpp-python's CMakeLists forces llama.cpp's `common` library
# on, which the Python package never loads (its ctypes bindings load llama_cpp/lib's ggml, llama and
# mtmd); turned off here, after that and before llama.cpp reads it, it is neither compiled nor shipped.
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama: build common utils library" FORCE)
