// Precompiled-header anchor for <torch/torch.h>; see cmake/RlhfHelpers.cmake.
