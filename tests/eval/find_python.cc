#include "tests/eval/find_python.h"

#include <glob.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace mrcnn::eval {
namespace {

bool HasPycocotools(const std::string& python) {
  const std::string cmd = "'" + python + "' -c 'import pycocotools.cocoeval' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace

std::string FindPycocotoolsPython() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PYCOCOTOOLS_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  std::vector<std::string> homes;
  if (const passwd* pw = getpwuid(getuid())) homes.push_back(pw->pw_dir);
  homes.push_back("/root");
  for (const std::string& home : homes) {
    glob_t g;
    const std::string pattern = home + "/.pyenv/versions/*/bin/python3";
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) candidates.push_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  candidates.push_back("/usr/local/bin/python3");
  candidates.push_back("/usr/bin/python3");
  for (const std::string& c : candidates) {
    if (HasPycocotools(c)) return c;
  }
  return "";
}

}  // namespace mrcnn::eval
