#include "mrcnn/config/flags.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mrcnn/config/paths.h"

DEFINE_string(preset, "",
              "Base config: matterport, torchvision or shapes. Default: the config file's \"preset\" "
              "key, else shapes.");
DEFINE_string(config, "",
              "JSON file of config overrides, {\"KEY\": value, ...}, optionally with "
              "\"preset\": NAME.");

namespace mrcnn {

std::vector<std::string> ExtractRepeatedFlag(const std::string& name, int* argc, char*** argv) {
  std::vector<std::string> values;
  const std::string long_eq = "--" + name + "=", short_eq = "-" + name + "=";
  const std::string long_bare = "--" + name, short_bare = "-" + name;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    if (arg == "--") {  // everything after a bare "--" is positional: keep it as it is
      for (; i < *argc; ++i) (*argv)[out++] = (*argv)[i];
      break;
    }
    if (arg.rfind(long_eq, 0) == 0) {
      values.push_back(arg.substr(long_eq.size()));
    } else if (arg.rfind(short_eq, 0) == 0) {
      values.push_back(arg.substr(short_eq.size()));
    } else if (arg == long_bare || arg == short_bare) {
      values.push_back(i + 1 < *argc ? (*argv)[++i] : "");
    } else {
      (*argv)[out++] = (*argv)[i];
    }
  }
  *argc = out;
  return values;
}

absl::StatusOr<Config> ConfigFromFlags(const std::vector<std::string>& set_flags) {
  return BuildConfig(FLAGS_preset, FLAGS_config, set_flags);
}

absl::StatusOr<Config> ConfigForWeights(const std::string& weights, const std::vector<std::string>& set_flags) {
  std::error_code ec;
  const std::string beside = (std::filesystem::path(weights).parent_path() / "config.json").string();
  if (FLAGS_preset.empty() && FLAGS_config.empty()) {
    if (std::filesystem::is_regular_file(beside, ec)) return BuildConfig("", beside, set_flags);
    // Defaults would build some model, maybe not the one these weights belong to: say so instead.
    return absl::NotFoundError(absl::StrCat(
        weights, ": no config.json beside it (the run folder's config, written by //mrcnn:train); pass "
        "--preset and/or --config describing the model these weights belong to"));
  }
  return ConfigFromFlags(set_flags);
}

void ResolvePathFlags(const std::vector<std::string>& names) {
  std::vector<std::string> all = names;
  all.push_back("config");
  for (const std::string& name : all) {
    std::string value;
    if (!gflags::GetCommandLineOption(name.c_str(), &value) || value.empty()) continue;
    const std::string resolved = ResolveUserPath(value);
    if (resolved != value) gflags::SetCommandLineOption(name.c_str(), resolved.c_str());
  }
}

std::string SetFlagHelp() {
  return absl::StrCat(
      "  --set KEY=VALUE  (repeatable) override one config key after --preset and --config,\n"
      "                   e.g. --set RPN_ANCHOR_SCALES=8,16,32,64,128 --set USE_MINI_MASK=false\n"
      "                   Lists: 8,16,32 or [8,16,32] or (56,56). Booleans: true/false.\n"
      "                   LOSS_WEIGHTS: name=weight,...\n"
      "                   Keys: ",
      absl::StrJoin(Config::FieldNames(), " "), "\n");
}

}  // namespace mrcnn
