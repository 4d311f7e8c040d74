// Image files: a header reader that gives an image's displayed size without decoding it, and a decoder
// that returns RGB pixels with the EXIF orientation applied (as the labelling tool showed the image).
//
//   absl::StatusOr<ImageHeader> h = ReadImageHeader("a.jpg");   // h->width, h->height after EXIF
//   absl::StatusOr<cv::Mat> rgb = ReadImageRgb("a.jpg");         // CV_8UC3, RGB order
//   // For a resize to 1024 x 768: a 6000 x 4000 JPEG decodes at 1/4 (1500 x 1000).
//   absl::StatusOr<DecodedImage> d = ReadImage("a.jpg", {.target_height = 768, .target_width = 1024});
//
// Sizes are checked against a pixel limit from the header, before anything is decoded: a 1 KB file
// can declare 60000 x 60000 pixels (10.8 GB decoded). JPEG, PNG, BMP and TIFF headers are read here;
// other formats are refused because their size cannot be checked before decoding.
//
// Errors name the file and the reason: missing, empty, unknown format, truncated, zero size, over the
// pixel limit, undecodable. No OpenCV exception leaves these functions.
#ifndef DATASETS_IMAGE_IO_H_
#define DATASETS_IMAGE_IO_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

// The default pixel limit: 100 megapixels, above real camera photos (a 61-megapixel full-frame camera
// makes 9504 x 6336) and far below what exhausts memory (3 bytes a pixel decoded, plus a mask of one
// byte a pixel per instance). The Config's IMAGE_MAX_PIXELS has the same default.
inline constexpr int64_t kDefaultImageMaxPixels = 100'000'000;

struct ImageHeader {
  int width = 0;   // as displayed, after the EXIF orientation
  int height = 0;
  int orientation = 1;  // EXIF orientation 1..8 (1: as stored)
  std::string format;   // "jpeg", "png", "bmp" or "tiff"
};

// True for the extensions loaders treat as images (jpg, jpeg, png, bmp, tif, tiff; any case).
bool IsImageExtension(const std::string& path);

// OK when a width x height image is within `max_pixels`; otherwise a ResourceExhausted error naming
// `name`, the size, the limit and how to raise it.
absl::Status CheckImagePixels(int width, int height, int64_t max_pixels, const std::string& name);

// Reads the header of an image held in memory without decoding it; `name` only labels errors. JPEG
// and PNG are also checked for truncation. Images over `max_pixels` are refused.
absl::StatusOr<ImageHeader> ReadImageHeaderFromBytes(const std::string& bytes, const std::string& name,
                                                     int64_t max_pixels = kDefaultImageMaxPixels);
absl::StatusOr<ImageHeader> ReadImageHeader(const std::string& path,
                                            int64_t max_pixels = kDefaultImageMaxPixels);

struct DecodeOptions {
  int64_t max_pixels = kDefaultImageMaxPixels;  // checked on the header, before decoding
  // The size the caller resizes the image to next; 0 x 0: decode at full size. A JPEG at least twice
  // that size on both sides is decoded at 1/2, 1/4 or 1/8 (libjpeg's DCT scaling, IMREAD_REDUCED_*):
  // the largest factor that divides both sides (so reduced pixels tile the image exactly) and still
  // leaves at least target_height x target_width. Other formats always decode at full size.
  int target_height = 0;
  int target_width = 0;
};

struct DecodedImage {
  cv::Mat rgb;         // CV_8UC3 RGB, (height / reduction) x (width / reduction)
  int reduction = 1;   // 1, 2, 4 or 8; decoded pixel (y, x) covers the image's pixels
                       // [y * reduction, (y + 1) * reduction) x [x * reduction, (x + 1) * reduction)
  int height = 0;      // the full image's size as displayed
  int width = 0;
};

// The reduction DecodeImage would use for an image with this header.
int DecodeReduction(const ImageHeader& header, const DecodeOptions& options);

// Decodes with the EXIF orientation applied. Fails on truncated JPEG/PNG files rather than returning
// the partly grey image decoders make of them, and on images over the pixel limit.
absl::StatusOr<DecodedImage> DecodeImage(const std::string& bytes, const std::string& name,
                                         const DecodeOptions& options);
absl::StatusOr<DecodedImage> ReadImage(const std::string& path, const DecodeOptions& options);

// DecodeImage at full size: CV_8UC3 RGB.
absl::StatusOr<cv::Mat> DecodeImageRgb(const std::string& bytes, const std::string& name,
                                       int64_t max_pixels = kDefaultImageMaxPixels);
absl::StatusOr<cv::Mat> ReadImageRgb(const std::string& path, int64_t max_pixels = kDefaultImageMaxPixels);

// Whole file as bytes; the error names the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace mrcnn::datasets

#endif  // DATASETS_IMAGE_IO_H_
