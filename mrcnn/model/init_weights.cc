// Writes the weights of a freshly initialised model (drawn from the config's SEED) to a weight file.
//
//   bazel run //mrcnn:init_weights -- --preset=shapes --out=/tmp/shapes_init.pt
#include <iostream>

#include "gflags/gflags.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/model/mask_rcnn.h"
#include "mrcnn/weights/weights.h"
#include "mrcnn/config/untrusted.h"

DEFINE_string(out, "", "Weight file to write.");

namespace {
int Main(int argc, char** argv) {
  std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage("Writes a freshly initialised model's weights.\nUsage: init_weights "
                          "--out=W.pt [--preset=NAME] [--config=FILE] [--set KEY=VALUE ...]");
  mrcnn::ParseFlags(&argc, &argv);
  mrcnn::ResolvePathFlags({"out"});
  if (FLAGS_out.empty()) {
    std::cerr << "init_weights: --out is required\n";
    return 2;
  }
  absl::StatusOr<mrcnn::Config> config = mrcnn::ConfigFromFlags(sets);
  if (!config.ok()) {
    std::cerr << "init_weights: " << config.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<mrcnn::MaskRCNN> model = mrcnn::CreateMaskRCNN(*config);
  if (!model.ok()) {
    std::cerr << "init_weights: " << model.status().message() << "\n";
    return 1;
  }
  absl::Status s = mrcnn::SaveWeights(**model, FLAGS_out);
  if (!s.ok()) {
    std::cerr << "init_weights: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "init_weights: wrote " << FLAGS_out << "\n";
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("init_weights", Main, argc, argv); }
