# Reward inspector and rollout view (issue 6 items 6 and 4), included by tests/ui/CMakeLists.txt.
# The GUI tests drive `rlhf score` through a stand-in script, so they need no LibTorch.
rlhf_add_test(test_ui_reward_inspector SOURCES test_reward_inspector.cpp LIBS rlhf_ui LABELS ui unit TIMEOUT 120 QT_WIDGETS)
rlhf_add_test(test_ui_rollout_view SOURCES test_rollout_view.cpp LIBS rlhf_ui LABELS ui unit TIMEOUT 120 QT_WIDGETS)
# `rlhf score` end to end: scores must equal core/model's RewardModel run directly on the same texts.
if(RLHF_WITH_TORCH AND TARGET rlhf AND TARGET rlhf_train AND EXISTS ${PROJECT_SOURCE_DIR}/app/rlhf/torch_cmd_score.cpp)
  rlhf_add_test(test_score_cli SOURCES test_score_cli.cpp LIBS rlhf_train rlhf_store rlhf_text LABELS cli TIMEOUT 300)
  target_compile_options(test_score_cli PRIVATE -Wno-unused-parameter)
  add_dependencies(test_score_cli rlhf)
endif()
