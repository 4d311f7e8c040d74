// The Python interpreter that has pycocotools, for the differential tests.
#ifndef TESTS_EVAL_FIND_PYTHON_H_
#define TESTS_EVAL_FIND_PYTHON_H_

#include <string>

namespace mrcnn::eval {

// Bazel gives tests a minimal PATH and a temporary HOME, so besides `python3` on PATH this tries the
// usual places of a pip-installed pycocotools: $PYCOCOTOOLS_PYTHON, pyenv versions under the real
// home directory, /usr/local/bin, /usr/bin. Empty when none imports pycocotools.cocoeval.
std::string FindPycocotoolsPython();

// The skip message when FindPycocotoolsPython() finds none.
inline constexpr char kNoPycocotools[] =
    "no Python with pycocotools found (tried $PYCOCOTOOLS_PYTHON, python3 on PATH, "
    "~/.pyenv/versions/*/bin/python3, /usr/local/bin/python3, /usr/bin/python3); install it with "
    "`pip install pycocotools` (setup.sh does)";

}  // namespace mrcnn::eval

#endif  // TESTS_EVAL_FIND_PYTHON_H_
