#include "tests/datasets/fixtures.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "opencv2/imgcodecs.hpp"

namespace mrcnn::datasets::testing {

namespace fs = std::filesystem;

std::string MakeTempDir(const std::string& name) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(base ? base : "/tmp") / (name + "_" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void WriteText(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteImage(const std::string& path, int width, int height) {
  fs::create_directories(fs::path(path).parent_path());
  cv::Mat bgr(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 3 % 256, y * 5 % 256, (x + y) % 256);
  }
  cv::imwrite(path, bgr);
}

uint32_t PngCrc(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

std::string ImageDeclaringSize(const std::string& ext, int width, int height) {
  cv::Mat bgr(8, 8, CV_8UC3, cv::Scalar(30, 60, 90));
  std::vector<uchar> buf;
  cv::imencode("." + ext, bgr, buf);
  std::string b(buf.begin(), buf.end());
  auto put_be = [&](size_t at, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<char>((v >> (8 * (bytes - 1 - i))) & 0xFF);
  };
  auto put_le = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  if (ext == "png") {
    // Signature (8), IHDR length (4), "IHDR" at 12, width at 16, height at 20, 5 more bytes of data,
    // then the CRC of type and data at 29.
    put_be(16, width, 4);
    put_be(20, height, 4);
    put_be(29, PngCrc(b.substr(12, 17)), 4);
  } else if (ext == "jpg") {
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    const size_t sof = b.find(std::string("\xFF\xC0", 2));
    put_be(sof + 5, height, 2);
    put_be(sof + 7, width, 2);
  } else if (ext == "bmp") {
    // File header (14), BITMAPINFOHEADER size (4), width at 18, height at 22 (little-endian).
    put_le(18, width);
    put_le(22, height);
  }
  return b;
}

std::vector<FixtureImage> SmallDataset() {
  return {
      {"a", 64, 48, {{"cat", {{5, 5}, {30, 6}, {20, 25}}}, {"dog", {{35, 10}, {60, 10}, {60, 40}, {35, 40}}}}},
      {"b", 80, 60, {{"dog", {{2.5, 3}, {40.2, 4}, {30, 50.5}, {4, 40}}}}},
      {"c", 50, 70, {{"cat", {{10, 10}, {40, 10}, {40, 20}, {10, 20}}}, {"cat", {{10, 30}, {45, 60}, {12, 66}}}}},
  };
}

namespace {

nlohmann::json PairPoints(const Polygon& p) {
  nlohmann::json pts = nlohmann::json::array();
  for (const Point& q : p) pts.push_back({q.x, q.y});
  return pts;
}

}  // namespace

std::string WriteTutorial(const std::string& root) {
  for (const FixtureImage& im : SmallDataset()) {
    // Nested like the tutorial's dates: JPEGImages/0927/0927_1/NAME.png
    WriteImage(root + "/JPEGImages/0927/0927_1/" + im.name + ".png", im.width, im.height);
    nlohmann::json list = nlohmann::json::array();
    for (const FixtureInstance& in : im.instances) {
      list.push_back({{"category", in.label == "cat" ? "1" : "2"}, {"type", "polygon"}, {"points", PairPoints(in.polygon)}});
    }
    WriteText(root + "/Segmentations/0927/0927_1/" + im.name + ".txt", list.dump());
  }
  return root;
}

std::string WriteLabelme(const std::string& root) {
  for (const FixtureImage& im : SmallDataset()) {
    WriteImage(root + "/" + im.name + ".png", im.width, im.height);
    nlohmann::json shapes = nlohmann::json::array();
    for (const FixtureInstance& in : im.instances) {
      shapes.push_back({{"label", in.label}, {"points", PairPoints(in.polygon)}, {"group_id", nullptr},
                        {"shape_type", "polygon"}, {"flags", nlohmann::json::object()}});
    }
    nlohmann::json j = {{"version", "5.2.1"}, {"flags", nlohmann::json::object()}, {"shapes", shapes},
                        {"imagePath", im.name + ".png"}, {"imageData", nullptr},
                        {"imageHeight", im.height}, {"imageWidth", im.width}};
    WriteText(root + "/" + im.name + ".json", j.dump(2));
  }
  return root;
}

std::string WriteCoco(const std::string& root) {
  nlohmann::json images = nlohmann::json::array(), anns = nlohmann::json::array();
  int image_id = 0, ann_id = 0;
  for (const FixtureImage& im : SmallDataset()) {
    ++image_id;
    WriteImage(root + "/images/" + im.name + ".png", im.width, im.height);
    images.push_back({{"id", image_id}, {"file_name", im.name + ".png"}, {"width", im.width}, {"height", im.height}});
    for (const FixtureInstance& in : im.instances) {
      nlohmann::json flat = nlohmann::json::array();
      for (const Point& q : in.polygon) {
        flat.push_back(q.x);
        flat.push_back(q.y);
      }
      anns.push_back({{"id", ++ann_id}, {"image_id", image_id}, {"category_id", in.label == "cat" ? 1 : 2},
                      {"segmentation", {flat}}, {"iscrowd", 0}, {"area", 0}, {"bbox", {0, 0, 0, 0}}});
    }
  }
  nlohmann::json j = {{"images", images}, {"annotations", anns},
                      {"categories", {{{"id", 1}, {"name", "cat"}}, {{"id", 2}, {"name", "dog"}}}}};
  WriteText(root + "/annotations.json", j.dump());
  return root;
}

}  // namespace mrcnn::datasets::testing
