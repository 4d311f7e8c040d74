// --help for every workbench binary: what the program does, its synopsis and its own flags.
//
// gflags' --help lists every flag linked into the binary, gflags', glog's and LibTorch's first, so a
// program's own flags were hard to find. ParseFlags parses as gflags::ParseCommandLineFlags does,
// except that --help prints the usage message (gflags::SetUsageMessage: first line what the program
// does, then "Usage: ...") and only the flags defined in this workspace's sources, then exits 0.
// --helpfull still lists every flag; --helpshort, --helpmatch and --version are gflags' own.
//
//   gflags::SetUsageMessage("Detects objects in one image.\nUsage: detect --weights=W.pt ...");
//   mrcnn::ParseFlags(&argc, &argv);
#ifndef MRCNN_CONFIG_HELP_H_
#define MRCNN_CONFIG_HELP_H_

#include <string>

#include "gflags/gflags.h"

namespace mrcnn {

// Whether a flag is the program's own: defined in a file of this workspace (Bazel compiles them under
// workspace-relative names such as "mrcnn/train/train_program.cc"), not in gflags, glog or LibTorch
// (absolute or "./" names) nor in an external repository.
bool IsOwnFlag(const gflags::CommandLineFlagInfo& flag);

// The text --help prints: the usage message, then the program's own flags grouped by file.
std::string OwnFlagsHelp();

// gflags::ParseCommandLineFlags(argc, argv, /*remove_flags=*/true) with the --help above.
void ParseFlags(int* argc, char*** argv);

}  // namespace mrcnn

#endif  // MRCNN_CONFIG_HELP_H_
