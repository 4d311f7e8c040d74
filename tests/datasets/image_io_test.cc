// Image headers and decoding: EXIF orientation (an APP1 segment written by hand into a JPEG), the
// errors for truncated, empty, zero-size and unreadable files, the pixel limit checked on headers that
// declare huge sizes (before any decoding), BMP and TIFF headers, and JPEG decoding at reduced size.
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

// An uncompressed little-endian RGB TIFF written by hand (one strip): `width` x `height` stored, the
// left half red and the right half blue, with an Orientation tag. `declared_width` and
// `declared_height` (when > 0) replace the size in the header but not the pixel data.
std::string Tiff(int width, int height, int orientation, int declared_width = 0, int declared_height = 0) {
  std::string t("II*\0", 4);
  auto p16 = [&](uint32_t v) { t += static_cast<char>(v & 0xFF), t += static_cast<char>(v >> 8); };
  auto p32 = [&](uint32_t v) { p16(v & 0xFFFF), p16(v >> 16); };
  p32(8);  // first IFD right after the header
  const int entries = 10;
  const uint32_t bits_at = 8 + 2 + entries * 12 + 4, data_at = bits_at + 6;
  p16(entries);
  auto entry = [&](uint32_t tag, uint32_t type, uint32_t count, uint32_t value) {
    p16(tag), p16(type), p32(count);
    if (type == 3 && count == 1) p16(value), p16(0);
    else p32(value);
  };
  entry(256, 4, 1, declared_width > 0 ? declared_width : width);     // ImageWidth, LONG
  entry(257, 4, 1, declared_height > 0 ? declared_height : height);  // ImageLength, LONG
  entry(258, 3, 3, bits_at);                                         // BitsPerSample 8, 8, 8
  entry(259, 3, 1, 1);                                               // no compression
  entry(262, 3, 1, 2);                                               // RGB
  entry(273, 4, 1, data_at);                                         // StripOffsets
  entry(274, 3, 1, orientation);                                     // Orientation
  entry(277, 3, 1, 3);                                               // SamplesPerPixel
  entry(278, 4, 1, height);                                          // RowsPerStrip
  entry(279, 4, 1, width * height * 3);                              // StripByteCounts
  p32(0);  // no next IFD
  p16(8), p16(8), p16(8);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const bool left = x < width / 2;
      t += static_cast<char>(left ? 255 : 0), t += '\0', t += static_cast<char>(left ? 0 : 255);
    }
  }
  return t;
}

TEST(ImageIo, PngCrcOfTheFixtureMatchesTheEncoder) {
  // The fixtures patch IHDR and rewrite its CRC: the CRC function must agree with libpng's.
  std::vector<uchar> buf;
  cv::imencode(".png", cv::Mat(5, 7, CV_8UC3, cv::Scalar::all(9)), buf);
  const std::string png(buf.begin(), buf.end());
  const uint32_t stored = (static_cast<uint32_t>(static_cast<unsigned char>(png[29])) << 24) |
                          (static_cast<unsigned char>(png[30]) << 16) |
                          (static_cast<unsigned char>(png[31]) << 8) | static_cast<unsigned char>(png[32]);
  EXPECT_EQ(testing::PngCrc(png.substr(12, 17)), stored);
}

TEST(ImageIo, DefaultLimitIsTheConfigsDefault) {
  EXPECT_EQ(kDefaultImageMaxPixels, 100000000);  // Config's IMAGE_MAX_PIXELS default, README "Datasets"
}

// The headers of the issue: 60000 x 60000 (3.6 gigapixels) in a PNG, 20000 x 20000 in a JPEG, and the
// same in a BMP and a TIFF. 100000000 is the default limit.
TEST(ImageIo, HugeDeclaredSizesAreRefusedFromTheHeader) {
  const std::string dir = testing::MakeTempDir("huge");
  testing::WriteText(dir + "/huge.png", testing::ImageDeclaringSize("png", 60000, 60000));
  testing::WriteText(dir + "/huge.jpg", testing::ImageDeclaringSize("jpg", 20000, 20000));
  testing::WriteText(dir + "/huge.bmp", testing::ImageDeclaringSize("bmp", 60000, 60000));
  testing::WriteText(dir + "/huge.tif", Tiff(8, 8, 1, 60000, 60000));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"huge.png", "60000x60000"}, {"huge.jpg", "20000x20000"}, {"huge.bmp", "60000x60000"}, {"huge.tif", "60000x60000"}};
  for (const auto& [name, size] : cases) {
    const std::string path = dir + "/" + name;
    ASSERT_LT(testing::ReadText(path).size(), 2048u) << name;
    absl::StatusOr<ImageHeader> h = ReadImageHeader(path);
    ASSERT_FALSE(h.ok()) << name;
    EXPECT_TRUE(absl::IsResourceExhausted(h.status())) << h.status();
    for (const std::string& part : {path, size, std::string("100000000"), std::string("IMAGE_MAX_PIXELS")}) {
      EXPECT_THAT(std::string(h.status().message()), HasSubstr(part)) << name;
    }
    absl::StatusOr<cv::Mat> rgb = ReadImageRgb(path);
    ASSERT_FALSE(rgb.ok()) << name;
    EXPECT_EQ(rgb.status(), h.status());
    // From memory too (labelme's imageData).
    absl::StatusOr<cv::Mat> mem = DecodeImageRgb(testing::ReadText(path), "embedded");
    ASSERT_FALSE(mem.ok()) << name;
    EXPECT_THAT(std::string(mem.status().message()), HasSubstr("embedded: image of " + size));
  }
  // Under a raised limit the header is read; the decoder then fails on the missing pixels (OpenCV
  // itself refuses 3.6 gigapixels by throwing), and the failure is a status naming the file.
  absl::StatusOr<ImageHeader> h = ReadImageHeader(dir + "/huge.png", 4'000'000'000);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->width, 60000);
  EXPECT_EQ(h->height, 60000);
  absl::StatusOr<cv::Mat> rgb = ReadImageRgb(dir + "/huge.png", 4'000'000'000);
  ASSERT_FALSE(rgb.ok());
  EXPECT_THAT(std::string(rgb.status().message()), HasSubstr(dir + "/huge.png: cannot decode the image (OpenCV"));
}

TEST(ImageIo, RaisingTheLimitReadsABigValidImage) {
  const std::string dir = testing::MakeTempDir("limit");
  testing::WriteImage(dir + "/big.jpg", 3000, 2000);  // 6 000 000 pixels
  absl::StatusOr<cv::Mat> refused = ReadImageRgb(dir + "/big.jpg", 5'999'999);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("3000x2000 (6000000 pixels"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("limit of 5999999 pixels"));
  absl::StatusOr<cv::Mat> read = ReadImageRgb(dir + "/big.jpg", 6'000'000);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->cols, 3000);
  EXPECT_EQ(read->rows, 2000);
}

TEST(ImageIo, BmpAndTiffHeadersAreReadWithoutDecoding) {
  const std::string dir = testing::MakeTempDir("bmp_tiff");
  testing::WriteImage(dir + "/a.bmp", 33, 17);
  testing::WriteImage(dir + "/a.tif", 31, 19);
  absl::StatusOr<ImageHeader> bmp = ReadImageHeader(dir + "/a.bmp");
  ASSERT_TRUE(bmp.ok()) << bmp.status();
  EXPECT_EQ(bmp->format, "bmp");
  EXPECT_EQ(bmp->width, 33);
  EXPECT_EQ(bmp->height, 17);
  absl::StatusOr<ImageHeader> tif = ReadImageHeader(dir + "/a.tif");
  ASSERT_TRUE(tif.ok()) << tif.status();
  EXPECT_EQ(tif->format, "tiff");
  EXPECT_EQ(tif->width, 31);
  EXPECT_EQ(tif->height, 19);
  absl::StatusOr<cv::Mat> rgb = ReadImageRgb(dir + "/a.bmp");
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->at<cv::Vec3b>(2, 4), cv::Vec3b(6, 10, 12));  // WriteImage's ramp, RGB order
  // A TIFF stored 40 x 20 with Orientation 6 is shown turned clockwise: 20 x 40, its left half (red)
  // on top.
  testing::WriteText(dir + "/turned.tif", Tiff(40, 20, 6));
  absl::StatusOr<ImageHeader> turned = ReadImageHeader(dir + "/turned.tif");
  ASSERT_TRUE(turned.ok()) << turned.status();
  EXPECT_EQ(turned->orientation, 6);
  EXPECT_EQ(turned->width, 20);
  EXPECT_EQ(turned->height, 40);
  absl::StatusOr<cv::Mat> shown = ReadImageRgb(dir + "/turned.tif");
  ASSERT_TRUE(shown.ok()) << shown.status();
  ASSERT_EQ(shown->size(), cv::Size(20, 40));
  EXPECT_EQ(shown->at<cv::Vec3b>(5, 10), cv::Vec3b(255, 0, 0));
  EXPECT_EQ(shown->at<cv::Vec3b>(35, 10), cv::Vec3b(0, 0, 255));
  // A cut TIFF header and formats whose size cannot be read are refused by name.
  testing::WriteText(dir + "/cut.tif", Tiff(40, 20, 1).substr(0, 40));
  testing::WriteText(dir + "/big.tif", std::string("II+\0\x08\0\0\0", 8) + std::string(64, '\0'));
  testing::WriteText(dir + "/a.gif", "GIF89a" + std::string(64, '\0'));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut.tif", "truncated TIFF header"}, {"big.tif", "BigTIFF is not supported"}, {"a.gif", "not a readable image"}};
  for (const auto& [name, reason] : cases) {
    absl::StatusOr<ImageHeader> h = ReadImageHeader(dir + "/" + name);
    ASSERT_FALSE(h.ok()) << name;
    EXPECT_THAT(std::string(h.status().message()), HasSubstr(dir + "/" + name + ": " + reason));
  }
}

TEST(ImageIo, JpegDecodesAtTheLargestReductionThatKeepsTheTargetSize) {
  const std::string dir = testing::MakeTempDir("reduced");
  testing::WriteImage(dir + "/a.jpg", 800, 480);
  testing::WriteImage(dir + "/odd.jpg", 804, 480);  // 804 = 4 * 201: not divisible by 8
  testing::WriteImage(dir + "/a.png", 800, 480);
  struct Case {
    std::string file;
    int target_height, target_width;
    int reduction;  // by hand: the largest of 8, 4, 2 dividing both sides with size / r >= target
  };
  const std::vector<Case> cases = {
      {"a.jpg", 60, 100, 8},   // 100 x 60 at 1/8
      {"a.jpg", 60, 101, 4},   // 1/8 leaves 100 columns < 101
      {"a.jpg", 240, 400, 2},  // 400 x 240 at 1/2
      {"a.jpg", 241, 400, 1},  // even 1/2 is too small
      {"a.jpg", 0, 0, 1},      // no target: full size
      {"odd.jpg", 60, 100, 4},  // 201 x 120
      {"a.png", 60, 100, 1},    // PNG has no reduced decoding
  };
  for (const Case& c : cases) {
    DecodeOptions o;
    o.target_height = c.target_height;
    o.target_width = c.target_width;
    absl::StatusOr<DecodedImage> d = ReadImage(dir + "/" + c.file, o);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->reduction, c.reduction) << c.file << " " << c.target_width << "x" << c.target_height;
    const int width = c.file == "odd.jpg" ? 804 : 800;
    EXPECT_EQ(d->width, width);
    EXPECT_EQ(d->height, 480);
    EXPECT_EQ(d->rgb.cols, width / c.reduction);
    EXPECT_EQ(d->rgb.rows, 480 / c.reduction);
  }
  // The EXIF orientation applies to the reduced image too: 40 x 20 stored, 20 x 40 shown, 10 x 20 at 1/2.
  DecodeOptions o;
  o.target_height = 20;
  o.target_width = 10;
  absl::StatusOr<DecodedImage> turned = DecodeImage(JpegWithOrientation(6), "turned", o);
  ASSERT_TRUE(turned.ok()) << turned.status();
  EXPECT_EQ(turned->reduction, 2);
  ASSERT_EQ(turned->rgb.size(), cv::Size(10, 20));
  EXPECT_GT(turned->rgb.at<cv::Vec3b>(3, 5)[0], 200);   // red on top
  EXPECT_GT(turned->rgb.at<cv::Vec3b>(17, 5)[2], 200);  // blue below
}

TEST(ImageIo, ImageExtensions) {
  EXPECT_TRUE(IsImageExtension("a/b.JPG"));
  EXPECT_TRUE(IsImageExtension("b.png"));
  EXPECT_FALSE(IsImageExtension("b.txt"));
  EXPECT_FALSE(IsImageExtension("noext"));
}

}  // namespace
}  // namespace mrcnn::datasets
