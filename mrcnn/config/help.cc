#include "mrcnn/config/help.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

namespace mrcnn {

bool IsOwnFlag(const gflags::CommandLineFlagInfo& flag) {
  const std::string& f = flag.filename;
  if (f.empty() || f[0] == '/' || f[0] == '.') return false;
  return f.rfind("external/", 0) != 0;
}

std::string OwnFlagsHelp() {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  std::stable_sort(flags.begin(), flags.end(),
                   [](const gflags::CommandLineFlagInfo& a, const gflags::CommandLineFlagInfo& b) {
                     return a.filename < b.filename;
                   });
  std::string out = gflags::ProgramUsage();
  out += "\n\nFlags (--helpfull also lists gflags', glog's and LibTorch's):\n";
  std::string file;
  for (const gflags::CommandLineFlagInfo& f : flags) {
    if (!IsOwnFlag(f)) continue;
    if (f.filename != file) {
      file = f.filename;
      out += "\n  Flags from " + file + ":\n";
    }
    out += gflags::DescribeOneFlag(f);
  }
  return out;
}

void ParseFlags(int* argc, char*** argv) {
  gflags::ParseCommandLineNonHelpFlags(argc, argv, true);
  std::string help;
  if (gflags::GetCommandLineOption("help", &help) && help == "true") {
    std::cout << OwnFlagsHelp();
    std::cout.flush();
    std::exit(0);
  }
  gflags::HandleCommandLineHelpFlags();
}

}  // namespace mrcnn
