# Helpers that give every target of ours the same warnings and conventions.

# -Werror everywhere the project is developed and tested (CI). SHIRG_WERROR=OFF keeps the warnings
# but does not stop on them: for a one-shot build on another compiler / LibTorch
# (scripts/gpu-check.sh), where a new warning must not cost the whole run.
option(SHIRG_WERROR "Treat warnings as errors" ON)
set(SHIRG_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(SHIRG_WERROR)
  list(APPEND SHIRG_WARNINGS -Werror)
endif()

# shirg_library(NAME SOURCES... [TORCH] [DEPS ...])
#   A static library of our code. TORCH links LibTorch (and marks its headers as system headers).
function(shirg_library name)
  cmake_parse_arguments(A "TORCH" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SHIRG_WARNINGS})
  if(A_TORCH)
    shirg_use_torch(${name} PUBLIC)
  endif()
  if(A_DEPS)
    target_link_libraries(${name} PUBLIC ${A_DEPS})
  endif()
endfunction()

# shirg_executable(NAME SOURCES... [TORCH] [DEPS ...])
function(shirg_executable name)
  cmake_parse_arguments(A "TORCH" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SHIRG_WARNINGS})
  if(A_TORCH)
    shirg_use_torch(${name} PRIVATE)
  endif()
  if(A_DEPS)
    target_link_libraries(${name} PRIVATE ${A_DEPS})
  endif()
endfunction()

function(shirg_use_torch target scope)
  target_include_directories(${target} SYSTEM ${scope} ${TORCH_INCLUDE_DIRS})
  target_link_libraries(${target} ${scope} ${TORCH_LIBRARIES})
  if(SHIRG_WITH_CUDA)
    target_compile_definitions(${target} ${scope} SHIRG_WITH_CUDA=1)
  endif()
endfunction()

# shirg_test(NAME SOURCES... LABEL unit|integration|e2e [TORCH] [DEPS ...])
#   A Catch2 v2 test executable whose test cases are registered with ctest under LABEL.
function(shirg_test name)
  cmake_parse_arguments(A "TORCH" "LABEL" "SOURCES;DEPS" ${ARGN})
  if(NOT A_LABEL)
    message(FATAL_ERROR "shirg_test(${name}) needs LABEL unit|integration|e2e")
  endif()
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SHIRG_WARNINGS})
  target_link_libraries(${name} PRIVATE shirg_catch_main Catch2::Catch2)
  if(A_TORCH)
    shirg_use_torch(${name} PRIVATE)
  endif()
  if(A_DEPS)
    target_link_libraries(${name} PRIVATE ${A_DEPS})
  endif()
  target_compile_definitions(${name} PRIVATE
    SHIRG_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SHIRG_BINARY_DIR="${PROJECT_BINARY_DIR}"
    SHIRG_PYTHON="${SHIRG_SYSTEM_PYTHON}")
  catch_discover_tests(${name}
    TEST_PREFIX "${A_LABEL}/${name}/"
    PROPERTIES LABELS ${A_LABEL}
    EXTRA_ARGS --warn NoAssertions)
endfunction()
