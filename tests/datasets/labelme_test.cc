// labelme's native JSON: group_id merging, rectangles, circles, unsupported shape types, __ignore__,
// embedded imageData, Windows image paths and image paths that do not point to an image.
#include "datasets/labelme.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::ElementsAre;
using nlohmann::json;

std::string Base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

json Shape(const std::string& label, const json& points, const std::string& type, const json& group = nullptr) {
  return {{"label", label}, {"points", points}, {"shape_type", type}, {"group_id", group}, {"flags", json::object()}};
}

json File(const json& shapes, const std::string& image_path, int w, int h, const json& data = nullptr) {
  return {{"version", "5.2.1"}, {"shapes", shapes}, {"imagePath", image_path},
          {"imageData", data},  {"imageWidth", w},  {"imageHeight", h}};
}

TEST(DecodeBase64, KnownText) {
  EXPECT_EQ(DecodeBase64("aGVsbG8=").value(), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8h").value(), "hello!");
  EXPECT_FALSE(DecodeBase64("a*b").ok());
}

TEST(LoadLabelme, ShapesGroupsAndTypes) {
  const std::string dir = testing::MakeTempDir("labelme_shapes");
  testing::WriteImage(dir + "/img.png", 40, 30);
  const json shapes = {
      Shape("dog", {{1, 1}, {5, 1}, {5, 5}, {1, 5}}, "polygon", 1),      // 0: dog group 1, part 1 (16 px)
      Shape("dog", {{10, 10}, {14, 10}, {14, 14}, {10, 14}}, "polygon", 1),  // 1: dog group 1, part 2 (16 px)
      Shape("cat", {{20, 1}, {24, 1}, {24, 3}}, "polygon", 1),            // 2: same group id, other label
      Shape("box", {{2, 20}, {10, 25}}, "rectangle"),                     // 3: x 2..9, y 20..24 = 40 px
      Shape("ball", {{30, 20}, {32, 20}}, "circle"),                      // 4: radius 2 -> 12 px
      Shape("wire", {{0, 0}, {10, 10}}, "line"),                          // 5: not a mask
      Shape("__ignore__", {{0, 0}, {39, 0}, {39, 29}}, "polygon"),        // 6: skipped silently
  };
  testing::WriteText(dir + "/img.json", File(shapes, "img.png", 40, 30).dump());
  ProblemLog log;
  LabelmeOptions opt;
  opt.dir = dir;
  absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "ball", "box", "cat", "dog"));
  ASSERT_EQ(log.problems().size(), 1u) << log.Report();
  EXPECT_TRUE(log.Has("img.json: instance 5", "unsupported shape_type \"line\""));
  absl::StatusOr<InstanceMasks> m = ds->LoadMask(0);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 4);
  EXPECT_THAT(m->class_ids, ElementsAre(4, 3, 2, 1));   // dog, cat, box, ball
  EXPECT_THAT(m->source_index, ElementsAre(0, 2, 3, 4));
  EXPECT_EQ(cv::countNonZero(m->masks[0]), 32);  // both dog parts in one instance
  EXPECT_EQ(cv::countNonZero(m->masks[1]), 4);   // triangle (20,1) (24,1) (24,3): rows 1 and 2 hold 3 + 1 centres
  EXPECT_EQ(cv::countNonZero(m->masks[2]), 40);
  EXPECT_EQ(MaskBox(m->masks[2]), (std::array<int, 4>{2, 20, 10, 25}));
  EXPECT_EQ(cv::countNonZero(m->masks[3]), 12);
}

TEST(LoadLabelme, EmptyLabelIsAProblemNotAClassWithoutAName) {
  const std::string dir = testing::MakeTempDir("labelme_empty_label");
  testing::WriteImage(dir + "/img.png", 40, 30);
  const json shapes = {Shape("", {{1, 1}, {5, 1}, {5, 5}}, "polygon"),
                       Shape("  ", {{1, 1}, {5, 1}, {5, 5}}, "polygon"),
                       Shape("dog", {{10, 10}, {14, 10}, {14, 14}}, "polygon")};
  testing::WriteText(dir + "/img.json", File(shapes, "img.png", 40, 30).dump());
  ProblemLog log;
  LabelmeOptions opt;
  opt.dir = dir;
  absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "dog"));
  ASSERT_EQ(log.problems().size(), 2u) << log.Report();
  EXPECT_TRUE(log.Has("img.json: instance 0", "empty \"label\"")) << log.Report();
  EXPECT_TRUE(log.Has("img.json: instance 1", "empty \"label\"")) << log.Report();
}

TEST(LoadLabelme, ImagePathsAndImageData) {
  const std::string dir = testing::MakeTempDir("labelme_paths");
  const json one = json::array({Shape("a", {{1, 1}, {8, 1}, {8, 8}}, "polygon")});
  // Windows separators relative to the JSON's folder.
  testing::WriteImage(dir + "/imgs/w.png", 20, 10);
  testing::WriteText(dir + "/ann/w.json", File(one, "..\\imgs\\w.png", 20, 10).dump());
  // Image missing on disk: imageData is used.
  const std::string tmp = testing::MakeTempDir("labelme_png");
  testing::WriteImage(tmp + "/e.png", 12, 16);
  testing::WriteText(dir + "/ann/e.json", File(one, "gone/e.png", 12, 16, Base64(testing::ReadText(tmp + "/e.png"))).dump());
  // imagePath names a text file: imageData again.
  testing::WriteText(dir + "/ann/notes.txt", "hello");
  testing::WriteText(dir + "/ann/t.json", File(one, "notes.txt", 12, 16, Base64(testing::ReadText(tmp + "/e.png"))).dump());
  // Neither an image nor imageData: reported.
  testing::WriteText(dir + "/ann/lost.json", File(one, "nowhere.jpg", 12, 16).dump());
  ProblemLog log;
  LabelmeOptions opt;
  opt.dir = dir;
  absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ(ds->num_images(), 3) << log.Report();
  EXPECT_TRUE(log.Has("lost.json", "imagePath \"nowhere.jpg\" is not an image file and there is no imageData"))
      << log.Report();
  EXPECT_EQ(log.num_errors(), 1) << log.Report();
  EXPECT_EQ(ds->image_info(0).id, "ann/e");
  EXPECT_TRUE(ds->image_info(0).path.empty());
  absl::StatusOr<cv::Mat> e = ds->LoadImage(0);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->cols, 12);
  EXPECT_EQ(e->rows, 16);
  EXPECT_EQ(ds->image_info(2).id, "ann/w");
  EXPECT_EQ(ds->image_info(2).width, 20);
  EXPECT_TRUE(ds->LoadImage(2).ok());
  EXPECT_TRUE(ds->LoadImage(1).ok());
}

TEST(LoadLabelme, ClassMapRestrictsAndOrdersLabels) {
  const std::string dir = testing::WriteLabelme(testing::MakeTempDir("labelme_map"));
  ProblemLog log;
  LabelmeOptions opt;
  opt.dir = dir;
  opt.class_map = ParseClassMapFlag("dog,cat").value();
  absl::StatusOr<Dataset> ds = LoadLabelme(opt, &log);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_THAT(ds->class_names(), ElementsAre("BG", "dog", "cat"));
  EXPECT_EQ(log.num_errors(), 0) << log.Report();
  EXPECT_EQ(ds->num_images(), 3);
}

}  // namespace
}  // namespace mrcnn::datasets
