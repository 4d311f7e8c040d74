#include "mrcnn/config/paths.h"

#include <cstdlib>

namespace mrcnn {

std::string ResolveUserPath(const std::string& path) {
  const char* wd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || wd == nullptr || wd[0] == '\0') return path;
  return std::string(wd) + "/" + path;
}

}  // namespace mrcnn
