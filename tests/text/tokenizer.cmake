# Tokenizer tests (core/text/tokenizer*). Included by tests/text/CMakeLists.txt.
if(TARGET rlhf_text)
  rlhf_add_test(test_tokenizer_parity SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_parity.cpp
                LIBS rlhf_text rlhf_io LABELS unit TIMEOUT 1200)
  rlhf_add_test(test_tokenizer_units SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_units.cpp
                LIBS rlhf_text rlhf_io LABELS unit TIMEOUT 1200)
  set_target_properties(test_tokenizer_parity test_tokenizer_units PROPERTIES AUTOMOC ON)
  if(TARGET rlhf)
    rlhf_add_test(test_tokenize_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenize_cli.cpp
                  LIBS rlhf_text rlhf_io LABELS cli TIMEOUT 300)
    set_target_properties(test_tokenize_cli PROPERTIES AUTOMOC ON)
    add_dependencies(test_tokenize_cli rlhf)
  endif()
endif()
