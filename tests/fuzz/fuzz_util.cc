#include "tests/fuzz/fuzz_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"

namespace mrcnn::fuzz {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "fuzz harness: %s\n", what.c_str());
  std::abort();
}

std::vector<std::string>& Created() {
  static std::vector<std::string>* dirs = new std::vector<std::string>;
  return *dirs;
}

void RemoveCreated() {
  for (const std::string& d : Created()) {
    std::error_code ec;
    fs::remove_all(d, ec);
  }
}

}  // namespace

std::string ScratchDir(const std::string& name) {
  std::string base = "/tmp";
  for (const char* var : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') {
      base = v;
      break;
    }
  }
  std::string templ = base + "/mrcnn-fuzz-" + name + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) Die("cannot create a folder from " + templ);
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(RemoveCreated); });
  Created().push_back(templ);
  return templ;
}

void WriteFileOrDie(const std::string& path, const uint8_t* data, size_t size) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) Die("cannot write " + path);
}

void WriteFileOrDie(const std::string& path, const std::string& text) {
  WriteFileOrDie(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

void WritePngOrDie(const std::string& path, int width, int height) {
  cv::Mat image(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const auto v = static_cast<uint8_t>((x * 16 + y * 8) & 0xFF);
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(v, v, v);
    }
  }
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (!cv::imwrite(path, image)) Die("cannot write " + path);
}

}  // namespace mrcnn::fuzz
