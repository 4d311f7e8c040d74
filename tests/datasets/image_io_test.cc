// Image headers and decoding: EXIF orientation (an APP1 segment written by hand into a JPEG), and the
// errors for truncated, empty, zero-size and unreadable files.
#include "datasets/image_io.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "opencv2/imgcodecs.hpp"
#include "tests/datasets/fixtures.h"

namespace mrcnn::datasets {
namespace {

using ::testing::HasSubstr;

// 40 x 20 (w x h) JPEG, left half red, right half blue, with EXIF orientation `orientation`.
std::string JpegWithOrientation(int orientation) {
  cv::Mat bgr(20, 40, CV_8UC3, cv::Scalar(255, 0, 0));
  bgr(cv::Rect(0, 0, 20, 20)).setTo(cv::Scalar(0, 0, 255));
  std::vector<uchar> buf;
  cv::imencode(".jpg", bgr, buf);
  // APP1: "Exif\0\0", big-endian TIFF header, one IFD entry: tag 0x0112 SHORT count 1 value.
  const std::string payload = std::string("Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0", 25) +
                              std::string(1, static_cast<char>(orientation)) + std::string("\0\0\0\0\0\0", 6);
  const int len = static_cast<int>(payload.size()) + 2;
  std::string app1 = std::string("\xFF\xE1", 2) + static_cast<char>(len >> 8) + static_cast<char>(len & 0xFF) + payload;
  std::string bytes(buf.begin(), buf.end());
  return bytes.substr(0, 2) + app1 + bytes.substr(2);
}

TEST(ImageIo, ExifOrientationTurnsTheImage) {
  const std::string dir = testing::MakeTempDir("exif");
  const std::string path = dir + "/turned.jpg";
  testing::WriteText(path, JpegWithOrientation(6));
  absl::StatusOr<ImageHeader> h = ReadImageHeader(path);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->orientation, 6);
  EXPECT_EQ(h->width, 20);  // displayed turned by 90 degrees
  EXPECT_EQ(h->height, 40);
  absl::StatusOr<cv::Mat> rgb = ReadImageRgb(path);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->cols, 20);
  EXPECT_EQ(rgb->rows, 40);
  // Orientation 6 shows the stored image turned clockwise: the stored left half (red) is on top.
  const cv::Vec3b top = rgb->at<cv::Vec3b>(5, 10), bottom = rgb->at<cv::Vec3b>(35, 10);
  EXPECT_GT(top[0], 200);  // RGB order: red
  EXPECT_LT(top[2], 60);
  EXPECT_GT(bottom[2], 200);  // blue
}

TEST(ImageIo, PlainJpegAndPngHeaders) {
  const std::string dir = testing::MakeTempDir("plain");
  testing::WriteImage(dir + "/a.png", 33, 17);
  testing::WriteImage(dir + "/a.jpg", 31, 19);
  absl::StatusOr<ImageHeader> png = ReadImageHeader(dir + "/a.png");
  ASSERT_TRUE(png.ok()) << png.status();
  EXPECT_EQ(png->width, 33);
  EXPECT_EQ(png->height, 17);
  EXPECT_EQ(png->format, "png");
  absl::StatusOr<ImageHeader> jpg = ReadImageHeader(dir + "/a.jpg");
  ASSERT_TRUE(jpg.ok()) << jpg.status();
  EXPECT_EQ(jpg->width, 31);
  EXPECT_EQ(jpg->height, 19);
  EXPECT_EQ(jpg->orientation, 1);
  absl::StatusOr<cv::Mat> rgb = ReadImageRgb(dir + "/a.png");
  ASSERT_TRUE(rgb.ok());
  // WriteImage stores BGR (x * 3, y * 5, x + y): RGB reverses it.
  EXPECT_EQ(rgb->at<cv::Vec3b>(2, 4), cv::Vec3b(6, 10, 12));
}

TEST(ImageIo, ErrorsNameTheFileAndTheReason) {
  const std::string dir = testing::MakeTempDir("bad");
  testing::WriteImage(dir + "/ok.jpg", 64, 64);
  testing::WriteImage(dir + "/ok.png", 64, 64);
  const std::string jpg = testing::ReadText(dir + "/ok.jpg");
  const std::string png = testing::ReadText(dir + "/ok.png");
  testing::WriteText(dir + "/cut.jpg", jpg.substr(0, jpg.size() / 2));
  testing::WriteText(dir + "/cut.png", png.substr(0, png.size() / 2));
  testing::WriteText(dir + "/empty.jpg", "");
  testing::WriteText(dir + "/text.jpg", "this is not an image");
  std::string zero = png;
  for (int i = 16; i < 20; ++i) zero[i] = 0;  // IHDR width = 0
  testing::WriteText(dir + "/zero.png", zero);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut.jpg", "truncated JPEG"},   {"cut.png", "truncated PNG"},     {"empty.jpg", "empty file"},
      {"text.jpg", "not a readable image"}, {"zero.png", "zero-size image"}, {"missing.jpg", "cannot open"},
  };
  for (const auto& [name, reason] : cases) {
    absl::StatusOr<cv::Mat> rgb = ReadImageRgb(dir + "/" + name);
    ASSERT_FALSE(rgb.ok()) << name;
    EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(dir + "/" + name)) << name;
    EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(reason)) << name;
  }
}

TEST(ImageIo, LargeFilesAreReadByHeadAndTail) {
  const std::string dir = testing::MakeTempDir("large");
  cv::Mat noise(1500, 2000, CV_8UC3);
  cv::randu(noise, cv::Scalar::all(0), cv::Scalar::all(255));
  cv::imwrite(dir + "/big.jpg", noise, {cv::IMWRITE_JPEG_QUALITY, 100});
  const std::string bytes = testing::ReadText(dir + "/big.jpg");
  ASSERT_GT(bytes.size(), 2u << 20);
  absl::StatusOr<ImageHeader> h = ReadImageHeader(dir + "/big.jpg");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 2000);
  EXPECT_EQ(h->height, 1500);
  testing::WriteText(dir + "/cut.jpg", bytes.substr(0, bytes.size() - 100000));
  absl::StatusOr<ImageHeader> cut = ReadImageHeader(dir + "/cut.jpg");
  ASSERT_FALSE(cut.ok());
  EXPECT_THAT(std::string(cut.status().message()), HasSubstr("truncated JPEG"));
}

TEST(ImageIo, ImageExtensions) {
  EXPECT_TRUE(IsImageExtension("a/b.JPG"));
  EXPECT_TRUE(IsImageExtension("b.png"));
  EXPECT_FALSE(IsImageExtension("b.txt"));
  EXPECT_FALSE(IsImageExtension("noext"));
}

}  // namespace
}  // namespace mrcnn::datasets
