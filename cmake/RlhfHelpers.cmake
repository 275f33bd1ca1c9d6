# rlhf_target_defaults(target): warnings and sanitizers on our own code only (no global flags).
function(rlhf_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(RLHF_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# rlhf_add_core_library(name SOURCES ... DEPS ...): one static library per core/ module.
function(rlhf_add_core_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  rlhf_target_defaults(${name})
endfunction()

# rlhf_use_torch(target): link LibTorch and reuse one precompiled <torch/torch.h>.
function(rlhf_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_compile_options(${target} PRIVATE -Wno-unused-parameter)
  if(NOT RLHF_SANITIZE AND NOT TARGET rlhf_torch_pch)
    add_library(rlhf_torch_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp)
    target_link_libraries(rlhf_torch_pch PUBLIC ${TORCH_LIBRARIES})
    target_precompile_headers(rlhf_torch_pch PRIVATE <torch/torch.h>)
  endif()
  if(TARGET rlhf_torch_pch AND NOT target STREQUAL "rlhf_torch_pch")
    target_precompile_headers(${target} REUSE_FROM rlhf_torch_pch)
  endif()
endfunction()

# rlhf_add_test(name SOURCES ... LIBS ... LABELS unit|ui|cli|slow [TIMEOUT s] [QT_WIDGETS])
# Every test is a Qt Test executable registered with CTest.
function(rlhf_add_test name)
  cmake_parse_arguments(A "QT_WIDGETS" "TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS} Qt6::Test Qt6::Core)
  if(A_QT_WIDGETS)
    target_link_libraries(${name} PRIVATE Qt6::Widgets)
  endif()
  target_compile_definitions(${name} PRIVATE QT_NO_KEYWORDS QT_NO_CAST_FROM_ASCII
      RLHF_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      RLHF_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures"
      RLHF_CLI_PATH="$<TARGET_FILE_DIR:rlhf>/rlhf")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/tests)
  set_target_properties(${name} PROPERTIES AUTOMOC ON)
  rlhf_target_defaults(${name})
  if("cli" IN_LIST A_LABELS AND TARGET rlhf)
    add_dependencies(${name} rlhf)  # the test runs the CLI binary
  endif()
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  # Qt Test kills a test function after 300 s by default, whatever CTest allows: on a loaded
  # 2-core CI machine a long learning test needs the whole CTest budget, so hand it to Qt too.
  math(EXPR qt_function_timeout_ms "${A_TIMEOUT} * 1000")
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
      ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QTEST_FUNCTION_TIMEOUT=${qt_function_timeout_ms}")
endfunction()
