#include "datasets/image_io.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace mrcnn::datasets {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

uint32_t Be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
uint32_t Be32(const unsigned char* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
}

// Orientation tag (0x0112) of an EXIF APP1 payload ("Exif\0\0" then a TIFF header); 1 when absent.
int ExifOrientation(const unsigned char* p, size_t n) {
  if (n < 14 || std::string(reinterpret_cast<const char*>(p), 4) != "Exif") return 1;
  const unsigned char* t = p + 6;
  const size_t tn = n - 6;
  const bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t off) -> uint32_t {
    return little ? (t[off] | (t[off + 1] << 8)) : Be16(t + off);
  };
  auto u32 = [&](size_t off) -> uint32_t {
    return little ? (t[off] | (t[off + 1] << 8) | (t[off + 2] << 16) | (static_cast<uint32_t>(t[off + 3]) << 24))
                  : Be32(t + off);
  };
  const uint32_t ifd = u32(4);
  if (ifd + 2 > tn) return 1;
  const uint32_t entries = u16(ifd);
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e + 12 > tn) break;
    if (u16(e) == 0x0112) {
      const uint32_t v = u16(e + 8);
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

absl::StatusOr<ImageHeader> JpegHeader(const std::string& bytes, const std::string& name) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  // A complete JPEG ends with the EOI marker; some writers append padding, so look near the end.
  const size_t eoi = bytes.rfind(std::string("\xFF\xD9", 2));
  const bool has_eoi = eoi != std::string::npos && eoi + 4096 >= n;
  if (!has_eoi) {
    return absl::DataLossError(absl::StrCat(name, ": truncated JPEG (no end-of-image marker)"));
  }
  ImageHeader h;
  h.format = "jpeg";
  size_t p = 2;
  int width = -1, height = -1;
  while (p + 4 <= n) {
    if (d[p] != 0xFF) return absl::DataLossError(absl::StrCat(name, ": corrupt JPEG marker structure"));
    const int marker = d[p + 1];
    if (marker == 0xFF) {  // fill byte
      ++p;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      p += 2;
      continue;
    }
    const uint32_t len = Be16(d + p + 2);
    if (len < 2 || p + 2 + len > n) {
      return absl::DataLossError(absl::StrCat(name, ": truncated JPEG segment"));
    }
    const unsigned char* payload = d + p + 4;
    if (marker == 0xE1) h.orientation = std::max(h.orientation, ExifOrientation(payload, len - 2));
    const bool sof = (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 &&
                     marker != 0xCC;
    if (sof && len >= 7) {
      height = static_cast<int>(Be16(payload + 1));
      width = static_cast<int>(Be16(payload + 3));
      break;
    }
    if (marker == 0xDA) break;  // scan data before any frame header
    p += 2 + len;
  }
  if (width < 0) return absl::DataLossError(absl::StrCat(name, ": JPEG without a frame header"));
  if (width == 0 || height == 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": zero-size image (", width, "x", height, ")"));
  }
  const bool swap = h.orientation >= 5;  // orientations 5..8 turn the image by 90 degrees
  h.width = swap ? height : width;
  h.height = swap ? width : height;
  return h;
}

absl::StatusOr<ImageHeader> PngHeader(const std::string& bytes, const std::string& name) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 24 || std::string(bytes.data() + 12, 4) != "IHDR") {
    return absl::DataLossError(absl::StrCat(name, ": truncated PNG header"));
  }
  if (n < 12 + 33 || bytes.find("IEND", n >= 64 ? n - 64 : 0) == std::string::npos) {
    return absl::DataLossError(absl::StrCat(name, ": truncated PNG (no IEND chunk)"));
  }
  ImageHeader h;
  h.format = "png";
  h.width = static_cast<int>(Be32(d + 16));
  h.height = static_cast<int>(Be32(d + 20));
  if (h.width <= 0 || h.height <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": zero-size image (", h.width, "x", h.height, ")"));
  }
  return h;
}

bool IsJpeg(const std::string& b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
         static_cast<unsigned char>(b[1]) == 0xD8 && static_cast<unsigned char>(b[2]) == 0xFF;
}
bool IsPng(const std::string& b) { return b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

}  // namespace

bool IsImageExtension(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string ext = Lower(path.substr(dot + 1));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "tif" || ext == "tiff";
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ss.str();
}

absl::StatusOr<ImageHeader> ReadImageHeaderFromBytes(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": empty file (0 bytes)"));
  if (IsJpeg(bytes)) return JpegHeader(bytes, name);
  if (IsPng(bytes)) return PngHeader(bytes, name);
  // Other formats: decode to learn the size (OpenCV applies EXIF orientation where it reads any).
  std::vector<uchar> buf(bytes.begin(), bytes.end());
  cv::Mat m = cv::imdecode(buf, cv::IMREAD_COLOR);
  if (m.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable image"));
  ImageHeader h;
  h.format = "other";
  h.width = m.cols;
  h.height = m.rows;
  return h;
}

absl::StatusOr<ImageHeader> ReadImageHeader(const std::string& path) {
  // Large JPEG and PNG files: the header sits in the first few hundred KiB (EXIF segments are at most
  // 64 KiB each) and the end markers in the last bytes, so read those two parts only; datasets of
  // many large images are checked without reading them whole.
  constexpr std::streamoff kHead = 512 << 10, kTail = 4096;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  const std::streamoff size = in.tellg();
  if (size > 2 * kHead) {
    std::string head(kHead, '\0'), tail(kTail, '\0');
    in.seekg(0);
    in.read(head.data(), kHead);
    in.seekg(size - kTail);
    in.read(tail.data(), kTail);
    if (!in) return absl::DataLossError(absl::StrCat(path, ": read error"));
    if (IsJpeg(head) || IsPng(head)) {
      absl::StatusOr<ImageHeader> h = ReadImageHeaderFromBytes(head + tail, path);
      if (h.ok()) return h;  // otherwise read the whole file for the exact diagnosis
    }
  }
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  return ReadImageHeaderFromBytes(*bytes, path);
}

absl::StatusOr<cv::Mat> DecodeImageRgb(const std::string& bytes, const std::string& name) {
  absl::StatusOr<ImageHeader> header = ReadImageHeaderFromBytes(bytes, name);
  if (!header.ok()) return header.status();
  std::vector<uchar> buf(bytes.begin(), bytes.end());
  // IMREAD_COLOR applies the EXIF orientation (IMREAD_IGNORE_ORIENTATION would turn it off).
  cv::Mat bgr = cv::imdecode(buf, cv::IMREAD_COLOR);
  if (bgr.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable image"));
  if (bgr.cols != header->width || bgr.rows != header->height) {
    return absl::InternalError(absl::StrCat(name, ": decoded size ", bgr.cols, "x", bgr.rows,
                                            " differs from the header's ", header->width, "x",
                                            header->height));
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

absl::StatusOr<cv::Mat> ReadImageRgb(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeImageRgb(*bytes, path);
}

}  // namespace mrcnn::datasets
