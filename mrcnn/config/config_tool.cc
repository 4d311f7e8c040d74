// Prints the effective config after --preset, --config and --set, or the reason it is invalid.
//
//   bazel run //mrcnn:config_tool -- --preset=shapes --set RPN_ANCHOR_STRIDE=2 [--json]
#include <iostream>

#include "gflags/gflags.h"
#include "mrcnn/config/config.h"
#include "mrcnn/config/flags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/untrusted.h"

DEFINE_bool(json, false, "Print the config as JSON (with BATCH_SIZE and IMAGE_SHAPE) instead of the "
                         "matterport-style table.");

namespace {
int Main(int argc, char** argv) {
  std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argv);
  gflags::SetUsageMessage(
      "Prints the effective Mask R-CNN config.\n"
      "Usage: config_tool [--preset=NAME] [--config=FILE.json] [--set KEY=VALUE ...] [--json]\n" +
      mrcnn::SetFlagHelp());
  mrcnn::ParseFlags(&argc, &argv);
  mrcnn::ResolvePathFlags({});
  if (argc > 1) {
    std::cerr << "config_tool: unexpected argument '" << argv[1] << "'\n";
    return 2;
  }
  absl::StatusOr<mrcnn::Config> config = mrcnn::ConfigFromFlags(sets);
  if (!config.ok()) {
    std::cerr << "config_tool: " << config.status().message() << "\n";
    return 1;
  }
  if (FLAGS_json) {
    std::cout << config->ToJsonWithDerived().dump(2) << "\n";
  } else {
    config->Display(std::cout);
    std::cout << "CONFIG_HASH                    " << config->Hash() << "\n";
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("config_tool", Main, argc, argv); }
