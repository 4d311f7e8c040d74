// Command-line flags every workbench binary shares: --preset, --config=FILE and repeatable --set.
//
// gflags keeps only the last value of a repeated flag, so --set is taken out of argv before gflags
// parses it:
//   std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argv);
//   gflags::ParseCommandLineFlags(&argc, &argv, true);
//   absl::StatusOr<Config> c = mrcnn::ConfigFromFlags(sets);
#ifndef MRCNN_CONFIG_FLAGS_H_
#define MRCNN_CONFIG_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gflags/gflags.h"
#include "mrcnn/config/config.h"

DECLARE_string(preset);
DECLARE_string(config);

namespace mrcnn {

// Removes every "--NAME=V", "-NAME=V", "--NAME V" and "-NAME V" from argv (keeping the rest in order)
// and returns the values in order. A trailing "--NAME" with no value yields an empty string, which
// callers reject as malformed.
std::vector<std::string> ExtractRepeatedFlag(const std::string& name, int* argc, char*** argv);

// BuildConfig(FLAGS_preset, FLAGS_config, set_flags).
absl::StatusOr<Config> ConfigFromFlags(const std::vector<std::string>& set_flags);

// The config for a trained weight file: the run folder's config.json beside `weights` (what
// //mrcnn:train wrote) when neither --preset nor --config is given (without one that is an error), else
// ConfigFromFlags. --set applies on top either way.
absl::StatusOr<Config> ConfigForWeights(const std::string& weights, const std::vector<std::string>& set_flags);

// Takes each named path flag (already parsed) relative to where `bazel run` was started
// (ResolveUserPath); --config is always included. Empty values stay empty.
void ResolvePathFlags(const std::vector<std::string>& names);

// Help text for --set, listing every key.
std::string SetFlagHelp();

}  // namespace mrcnn

#endif  // MRCNN_CONFIG_FLAGS_H_
