# Finds every system dependency (Debian 12 packages, see scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(SPNG REQUIRED IMPORTED_TARGET spng)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

# LibTorch (Debian's libtorch-dev installs TorchConfig.cmake).
find_package(Torch REQUIRED)
# Torch's exported flags are not -Werror clean; keep them but mark its headers as system.
set(SHIRG_TORCH_LIBS ${TORCH_LIBRARIES})

find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

find_package(Catch2 2 REQUIRED)
include(Catch)

find_package(Python3 COMPONENTS Interpreter REQUIRED)
# Debian's own interpreter has python3-torch/grpcio; a pyenv one first on PATH may not.
find_program(SHIRG_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SHIRG_SYSTEM_PYTHON)
  set(SHIRG_SYSTEM_PYTHON ${Python3_EXECUTABLE})
endif()
