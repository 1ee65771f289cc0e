# Finds every system dependency (Debian 12 packages, see scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(OpenSSL REQUIRED)  # TLS of the HTTP API (libssl-dev)
find_package(ZLIB REQUIRED)     # gzip/deflate request bodies of the HTTP API (zlib1g-dev)
find_package(spdlog REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(SPNG REQUIRED IMPORTED_TARGET spng)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)

# LibTorch (Debian's libtorch-dev installs TorchConfig.cmake).
find_package(Torch REQUIRED)
# Torch's exported flags are not -Werror clean; keep them but mark its headers as system.
set(SHIRG_TORCH_LIBS ${TORCH_LIBRARIES})

if(SHIRG_WITH_ONEDNN)
  # By path, not dnnl-config.cmake: Debian's config requires OpenCL headers (its GPU runtime),
  # which the CPU matmul we use does not need.
  find_path(SHIRG_DNNL_INCLUDE oneapi/dnnl/dnnl.hpp)
  find_library(SHIRG_DNNL_LIBRARY NAMES dnnl)
  if(NOT SHIRG_DNNL_INCLUDE OR NOT SHIRG_DNNL_LIBRARY)
    message(FATAL_ERROR "oneDNN not found: install libdnnl-dev (scripts/install-deps.sh) or "
                        "configure with -DSHIRG_WITH_ONEDNN=OFF")
  endif()
  add_library(shirg_dnnl INTERFACE IMPORTED)
  target_include_directories(shirg_dnnl SYSTEM INTERFACE ${SHIRG_DNNL_INCLUDE})
  target_link_libraries(shirg_dnnl INTERFACE ${SHIRG_DNNL_LIBRARY})
endif()

if(NOT SHIRG_ENGINE_ONLY)
  find_package(Protobuf REQUIRED)
  find_package(gRPC CONFIG REQUIRED)
  # grpc/health/v1/health.proto and grpc/reflection/v1alpha/reflection.proto (the health and
  # reflection client stubs): Debian 12's grpc-proto; Debian 13 has no grpc-proto package and
  # ships the same files in golang-google-grpc-dev.
  find_path(SHIRG_GRPC_PROTO_DIR grpc/health/v1/health.proto
    PATHS /usr/share/grpc-proto
          /usr/share/gocode/src/google.golang.org/grpc/debian/missing-sources/grpc/grpc-proto/master
    NO_DEFAULT_PATH REQUIRED)
endif()

# Catch2 v2 (Debian 12) or v3 (Debian 13); tests/common/catch.h hides the difference.
find_package(Catch2 REQUIRED)
if(Catch2_VERSION VERSION_LESS 2.13)
  message(FATAL_ERROR "Catch2 >= 2.13 needed, found ${Catch2_VERSION}")
endif()
include(Catch)

find_package(Python3 COMPONENTS Interpreter REQUIRED)
# Debian's own interpreter has python3-torch/grpcio; a pyenv one first on PATH may not.
find_program(SHIRG_SYSTEM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT SHIRG_SYSTEM_PYTHON)
  set(SHIRG_SYSTEM_PYTHON ${Python3_EXECUTABLE})
endif()
