// Helpers for the libFuzzer targets whose parsers read files (the dataset loaders, config and spec
// files, class-map files): a scratch folder private to the process, and files written into it.
//
//   static const std::string dir = mrcnn::fuzz::ScratchDir("coco");
//   mrcnn::fuzz::WriteFileOrDie(dir + "/annotations.json", data, size);
#ifndef TESTS_FUZZ_FUZZ_UTIL_H_
#define TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace mrcnn::fuzz {

// A fresh folder under $TEST_TMPDIR, else $TMPDIR, else /tmp, named mrcnn-fuzz-NAME-XXXXXX; removed
// with its contents when the process exits normally (a crash leaves it for inspection).
std::string ScratchDir(const std::string& name);

// Writes the bytes to `path`, replacing it, creating parent folders. Aborts on failure: the harness,
// not the parser, is broken then.
void WriteFileOrDie(const std::string& path, const uint8_t* data, size_t size);
void WriteFileOrDie(const std::string& path, const std::string& text);

// A width x height PNG (a grey ramp) at `path`, for loaders that read image headers.
void WritePngOrDie(const std::string& path, int width, int height);

}  // namespace mrcnn::fuzz

#endif  // TESTS_FUZZ_FUZZ_UTIL_H_
