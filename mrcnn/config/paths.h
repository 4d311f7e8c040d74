// Paths typed by a user. `bazel run` starts a binary in its runfiles tree, not where the user typed
// the command; Bazel passes that folder as BUILD_WORKING_DIRECTORY, and relative paths are taken
// from there (outside `bazel run` they stay relative to the current directory).
//
//   ResolveUserPath("data/signs")  // "/home/me/project/data/signs" under `bazel run`
#ifndef MRCNN_CONFIG_PATHS_H_
#define MRCNN_CONFIG_PATHS_H_

#include <string>

namespace mrcnn {

// Empty and absolute paths are returned as they are.
std::string ResolveUserPath(const std::string& path);

}  // namespace mrcnn

#endif  // MRCNN_CONFIG_PATHS_H_
