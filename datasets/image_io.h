// Image files: a header reader that gives an image's displayed size without decoding it, and a decoder
// that returns RGB pixels with the EXIF orientation applied (as the labelling tool showed the image).
//
//   absl::StatusOr<ImageHeader> h = ReadImageHeader("a.jpg");   // h->width, h->height after EXIF
//   absl::StatusOr<cv::Mat> rgb = ReadImageRgb("a.jpg");         // CV_8UC3, RGB order
//
// Errors name the file and the reason: missing, empty, unknown format, truncated, zero size, undecodable.
#ifndef DATASETS_IMAGE_IO_H_
#define DATASETS_IMAGE_IO_H_

#include <string>

#include "absl/status/statusor.h"
#include "opencv2/core.hpp"

namespace mrcnn::datasets {

struct ImageHeader {
  int width = 0;   // as displayed, after the EXIF orientation
  int height = 0;
  int orientation = 1;  // EXIF orientation 1..8 (1: as stored)
  std::string format;   // "jpeg", "png", or "other" (size found by decoding)
};

// True for the extensions loaders treat as images (jpg, jpeg, png, bmp, tif, tiff; any case).
bool IsImageExtension(const std::string& path);

// Reads the header of an image held in memory; `name` only labels errors. JPEG and PNG are read
// without decoding (and checked for truncation); other formats are decoded.
absl::StatusOr<ImageHeader> ReadImageHeaderFromBytes(const std::string& bytes, const std::string& name);
absl::StatusOr<ImageHeader> ReadImageHeader(const std::string& path);

// Decodes to CV_8UC3 RGB with the EXIF orientation applied. Fails on truncated JPEG/PNG files rather
// than returning the partly grey image decoders make of them.
absl::StatusOr<cv::Mat> DecodeImageRgb(const std::string& bytes, const std::string& name);
absl::StatusOr<cv::Mat> ReadImageRgb(const std::string& path);

// Whole file as bytes; the error names the path.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

}  // namespace mrcnn::datasets

#endif  // DATASETS_IMAGE_IO_H_
