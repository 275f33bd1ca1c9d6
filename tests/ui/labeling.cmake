# Labeling panel, generation side (issue 6 item 3): `rlhf pairs` through the CLI, and the panel
# generating and prefetching pairs through it while the annotator labels. Both run the rlhf binary
# with LibTorch (the command is torch_cmd_pairs.cpp), so they exist only in torch builds.
if(RLHF_WITH_TORCH AND TARGET rlhf AND TARGET rlhf_demo)
  rlhf_add_test(test_pairs_cli SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pairs_cli.cpp
                LIBS rlhf_store rlhf_demo LABELS cli TIMEOUT 900)
  rlhf_add_test(test_ui_labeling_generate SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_labeling_generate.cpp
                LIBS rlhf_ui LABELS ui TIMEOUT 900 QT_WIDGETS)
  add_dependencies(test_ui_labeling_generate rlhf)  # the panel runs `rlhf pairs` as its child
endif()
