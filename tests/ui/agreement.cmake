# The labeling panel's inter-annotator agreement line (hand-computed Cohen's kappa).
rlhf_add_test(test_ui_agreement SOURCES test_agreement_view.cpp LIBS rlhf_ui LABELS ui TIMEOUT 60 QT_WIDGETS)
