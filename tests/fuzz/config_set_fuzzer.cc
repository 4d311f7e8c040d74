// --set values (mrcnn/config/flags.h, config.h): the input is a command line, one argument per line.
// ExtractRepeatedFlag takes the --set values out of it as every binary does, and BuildConfig applies
// them in order to a preset and validates the result. Each line that holds '=' is also given to
// Config::Set directly (KEY=VALUE), which parses values by the key's type.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "mrcnn/config/config.h"
#include "mrcnn/config/flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args = absl::StrSplit(text, '\n');
  args.insert(args.begin(), "fuzz");  // argv[0]
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  char** argvp = argv.data();
  const std::vector<std::string> sets = mrcnn::ExtractRepeatedFlag("set", &argc, &argvp);
  for (const char* preset : {"shapes", "torchvision"}) (void)mrcnn::BuildConfig(preset, "", sets);

  mrcnn::Config c = mrcnn::Config::Preset("matterport").value();
  for (size_t i = 1; i < args.size(); ++i) {
    const size_t eq = args[i].find('=');
    if (eq == std::string::npos) continue;
    (void)c.Set(args[i].substr(0, eq), args[i].substr(eq + 1));
  }
  (void)c.Validate();
  return 0;
}
