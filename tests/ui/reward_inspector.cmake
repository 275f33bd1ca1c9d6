# Reward inspector and rollout view (issue 6 items 6 and 4), included by tests/ui/CMakeLists.txt.
# The GUI tests drive `rlhf score` through a stand-in script, so they need no LibTorch.
rlhf_add_test(test_ui_reward_inspector SOURCES test_reward_inspector.cpp LIBS rlhf_ui LABELS ui unit TIMEOUT 120 QT_WIDGETS)
rlhf_add_test(test_ui_rollout_view SOURCES test_rollout_view.cpp LIBS rlhf_ui LABELS ui unit TIMEOUT 120 QT_WIDGETS)
