#include "tests/mrcnn/reference.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace mrcnn {
namespace testing {

std::string TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir = std::filesystem::path(root ? root : "/tmp") / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

absl::Status RunCommand(const std::string& command) {
  const std::string log = TempDir("command_log") + "/out.txt";
  const int rc = std::system(("( " + command + " ) > " + log + " 2>&1").c_str());
  if (rc == 0) return absl::OkStatus();
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string out = text.str();
  if (out.size() > 3000) out = out.substr(out.size() - 3000);
  return absl::InternalError(absl::StrCat("command failed (", rc, "): ", command, "\n", out));
}

absl::StatusOr<std::string> RunTorchvisionReference(const std::string& args,
                                                    const std::string& name) {
  const std::string dir = TempDir(name);
  // Bazel runs tests in the runfiles tree, where the script sits at its workspace path.
  absl::Status s = RunCommand(absl::StrCat("/usr/bin/python3 tests/mrcnn/torchvision_reference.py ",
                                           args, " --out ", dir));
  if (!s.ok()) return s;
  return dir;
}

absl::StatusOr<std::string> ConvertCheckpoint(const std::string& pth) {
  std::string out = pth;
  if (out.size() > 4 && out.substr(out.size() - 4) == ".pth") out.resize(out.size() - 4);
  out += ".pt";
  absl::Status s = RunCommand(
      absl::StrCat("/usr/bin/python3 mrcnn/weights/convert_torchvision.py ", pth, " ", out));
  if (!s.ok()) return s;
  return out;
}

::testing::AssertionResult AllClose(const torch::Tensor& actual, const torch::Tensor& expected,
                                    double atol, double rtol) {
  if (!actual.defined() || !expected.defined()) {
    return ::testing::AssertionFailure() << "undefined tensor";
  }
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure()
           << "shape " << actual.sizes() << " vs expected " << expected.sizes();
  }
  if (actual.numel() == 0) return ::testing::AssertionSuccess();
  const torch::Tensor a = actual.detach().to(torch::kDouble).cpu();
  const torch::Tensor e = expected.detach().to(torch::kDouble).cpu();
  const torch::Tensor diff = (a - e).abs();
  const torch::Tensor excess = diff - (atol + rtol * e.abs());
  const int64_t worst = excess.flatten().argmax().item<int64_t>();
  const double worst_excess = excess.flatten()[worst].item<double>();
  if (worst_excess <= 0 && !diff.isnan().any().item<bool>()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "max |diff| " << diff.max().item<double>() << "; worst at flat index " << worst << ": "
         << a.flatten()[worst].item<double>() << " vs expected " << e.flatten()[worst].item<double>()
         << " (atol " << atol << ", rtol " << rtol << ", max |expected| " << e.abs().max().item<double>()
         << ")";
}

}  // namespace testing
}  // namespace mrcnn
