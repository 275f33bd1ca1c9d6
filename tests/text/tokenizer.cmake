# Tokenizer tests (core/text/tokenizer*). Included by tests/text/CMakeLists.txt.
if(TARGET rlhf_text)
  rlhf_add_test(test_tokenizer_parity SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer_parity.cpp
                LIBS rlhf_text rlhf_io LABELS unit TIMEOUT 300)
  set_target_properties(test_tokenizer_parity PROPERTIES AUTOMOC ON)
endif()
