// Anchor of the precompiled <torch/torch.h> shared by the torch test
// executables (tests/model/CMakeLists.txt). An executable, so its -fPIE matches theirs.
int main() { return 0; }
