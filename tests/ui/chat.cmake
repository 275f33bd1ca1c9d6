# Chat panel and `rlhf chat --json` (issue 6 item 7), and the demo walk-through's window part
# (issue 7), included by tests/ui/CMakeLists.txt. Both run the real rlhf CLI (LibTorch) on tiny
# GPT-2 folders the tests write themselves (test_chat_model.cpp, no LibTorch in the test).
if(RLHF_WITH_TORCH AND TARGET rlhf)
  rlhf_add_test(test_chat_protocol SOURCES test_chat_protocol.cpp test_chat_model.cpp LIBS rlhf_io LABELS cli TIMEOUT 300)
  rlhf_add_test(test_chat_panel SOURCES test_chat_panel.cpp test_chat_model.cpp LIBS rlhf_ui LABELS ui TIMEOUT 300 QT_WIDGETS)
  add_dependencies(test_chat_panel rlhf)
endif()
