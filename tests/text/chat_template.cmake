# ChatTemplate tests (included by tests/text/CMakeLists.txt). Truths: outputs of
# @huggingface/jinja and Python jinja2 saved in tests/fixtures/chat_template (see
# tests/tools/chat_template/), hand-computed renders, and error positions counted by hand.
set(CMAKE_AUTOMOC ON)  # Qt Test classes include their .moc
rlhf_add_test(test_chat_template SOURCES test_chat_template.cpp LIBS rlhf_text LABELS unit TIMEOUT 120)
# `rlhf template` end to end through QProcess.
rlhf_add_test(test_chat_template_cli SOURCES test_chat_template_cli.cpp LIBS nlohmann_json::nlohmann_json LABELS cli TIMEOUT 120)
add_dependencies(test_chat_template_cli rlhf)
rlhf_add_test(test_jinja_errors SOURCES test_jinja_errors.cpp LIBS rlhf_text LABELS unit TIMEOUT 120)
rlhf_add_test(test_jinja SOURCES test_jinja.cpp LIBS rlhf_text LABELS unit TIMEOUT 120)
