#include "datasets/image_io.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
uint32_t Le16(const unsigned char* p) { return p[0] | (p[1] << 8); }
uint32_t Le32(const unsigned char* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// The single-valued SHORT and LONG entries (tag -> value) of the first IFD of a TIFF structure: a
// TIFF file, or the payload of an EXIF segment after "Exif\0\0". `t` holds `n` bytes from the byte-order
// mark. Entries are read as far as the bytes go; `complete` says whether the whole IFD was there.
struct TiffIfd {
  bool is_tiff = false;
  bool complete = false;
  std::map<uint32_t, uint32_t> values;
};

TiffIfd ReadFirstIfd(const unsigned char* t, size_t n) {
  TiffIfd out;
  if (n < 8) return out;
  const bool little = t[0] == 'I' && t[1] == 'I';
  if (!little && !(t[0] == 'M' && t[1] == 'M')) return out;
  auto u16 = [&](uint64_t off) { return little ? Le16(t + off) : Be16(t + off); };
  auto u32 = [&](uint64_t off) { return little ? Le32(t + off) : Be32(t + off); };
  if (u16(2) != 42) return out;
  out.is_tiff = true;
  const uint64_t ifd = u32(4);
  if (ifd < 8 || ifd + 2 > n) return out;
  const uint64_t entries = u16(ifd);
  for (uint64_t i = 0; i < entries; ++i) {
    const uint64_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) return out;
    const uint32_t tag = u16(e), type = u16(e + 2), count = u32(e + 4);
    if (count != 1) continue;
    if (type == 3) out.values[tag] = u16(e + 8);  // SHORT, left-justified in the value field
    if (type == 4) out.values[tag] = u32(e + 8);  // LONG
  }
  out.complete = true;
  return out;
}

constexpr uint32_t kTiffImageWidth = 256, kTiffImageLength = 257, kTiffOrientation = 0x0112;

int ValidOrientation(const TiffIfd& ifd) {
  const auto it = ifd.values.find(kTiffOrientation);
  return it != ifd.values.end() && it->second >= 1 && it->second <= 8 ? static_cast<int>(it->second) : 1;
}

// Orientation tag of an EXIF APP1 payload ("Exif\0\0" then a TIFF header); 1 when absent.
int ExifOrientation(const unsigned char* p, size_t n) {
  if (n < 14 || std::string(reinterpret_cast<const char*>(p), 4) != "Exif") return 1;
  return ValidOrientation(ReadFirstIfd(p + 6, n - 6));
}

// The displayed size: orientations 5..8 turn the stored image by 90 degrees.
void SetDisplayedSize(int stored_width, int stored_height, ImageHeader* h) {
  const bool swap = h->orientation >= 5;
  h->width = swap ? stored_height : stored_width;
  h->height = swap ? stored_width : stored_height;
}

absl::Status ZeroSize(const std::string& name, int64_t width, int64_t height) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": zero-size image (", width, "x", height, ")"));
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
  if (width == 0 || height == 0) return ZeroSize(name, width, height);
  SetDisplayedSize(width, height, &h);
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
  const uint32_t width = Be32(d + 16), height = Be32(d + 20);
  if (width == 0 || height == 0) return ZeroSize(name, width, height);
  if (width > 0x7FFFFFFFu || height > 0x7FFFFFFFu) {  // the PNG specification's limit
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": invalid PNG header (size ", width, "x", height, " above 2^31 - 1)"));
  }
  ImageHeader h;
  h.format = "png";
  h.width = static_cast<int>(width);
  h.height = static_cast<int>(height);
  return h;
}

// BMP: "BM", the 14-byte file header, then a DIB header whose size says its kind: 12 bytes (OS/2
// BITMAPCOREHEADER, 16-bit sizes) or 40 and more (BITMAPINFOHEADER and later, 32-bit signed sizes; a
// negative height stores the rows top-down).
absl::StatusOr<ImageHeader> BmpHeader(const std::string& bytes, const std::string& name) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 18) return absl::DataLossError(absl::StrCat(name, ": truncated BMP header"));
  const uint32_t dib = Le32(d + 14);
  int64_t width = 0, height = 0;
  if (dib == 12) {
    if (n < 26) return absl::DataLossError(absl::StrCat(name, ": truncated BMP header"));
    width = Le16(d + 18);
    height = Le16(d + 20);
  } else if (dib >= 40) {
    if (n < 26) return absl::DataLossError(absl::StrCat(name, ": truncated BMP header"));
    width = static_cast<int32_t>(Le32(d + 18));
    height = static_cast<int32_t>(Le32(d + 22));
    if (height < 0) height = -height;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(name, ": BMP with an unknown header (", dib, " bytes)"));
  }
  if (width < 0) return absl::InvalidArgumentError(absl::StrCat(name, ": invalid BMP width ", width));
  if (width == 0 || height == 0) return ZeroSize(name, width, height);
  if (height > 0x7FFFFFFF) {  // -2^31 rows top-down
    return absl::InvalidArgumentError(absl::StrCat(name, ": invalid BMP height ", height));
  }
  ImageHeader h;
  h.format = "bmp";
  h.width = static_cast<int>(width);
  h.height = static_cast<int>(height);
  return h;
}

// TIFF: the first image's ImageWidth and ImageLength tags, turned by its Orientation tag (which
// OpenCV's decoder applies, as it does EXIF's).
absl::StatusOr<ImageHeader> TiffHeader(const std::string& bytes, const std::string& name) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  const TiffIfd ifd = ReadFirstIfd(d, bytes.size());
  if (!ifd.complete) return absl::DataLossError(absl::StrCat(name, ": truncated TIFF header"));
  const auto w = ifd.values.find(kTiffImageWidth), h = ifd.values.find(kTiffImageLength);
  if (w == ifd.values.end() || h == ifd.values.end()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": TIFF without ImageWidth and ImageLength"));
  }
  if (w->second == 0 || h->second == 0) return ZeroSize(name, w->second, h->second);
  if (w->second > 0x7FFFFFFFu || h->second > 0x7FFFFFFFu) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": invalid TIFF size ", w->second, "x", h->second));
  }
  ImageHeader out;
  out.format = "tiff";
  out.orientation = ValidOrientation(ifd);
  SetDisplayedSize(static_cast<int>(w->second), static_cast<int>(h->second), &out);
  return out;
}

bool IsJpeg(const std::string& b) {
  return b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
         static_cast<unsigned char>(b[1]) == 0xD8 && static_cast<unsigned char>(b[2]) == 0xFF;
}
bool IsPng(const std::string& b) { return b.size() >= 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }
bool IsBmp(const std::string& b) { return b.size() >= 2 && b[0] == 'B' && b[1] == 'M'; }
bool IsTiff(const std::string& b) {
  return b.size() >= 4 && (b.compare(0, 4, std::string("II*\0", 4)) == 0 || b.compare(0, 4, std::string("MM\0*", 4)) == 0);
}
bool IsBigTiff(const std::string& b) {
  return b.size() >= 4 && (b.compare(0, 4, std::string("II+\0", 4)) == 0 || b.compare(0, 4, std::string("MM\0+", 4)) == 0);
}

// The header by the file's signature, without the pixel limit.
absl::StatusOr<ImageHeader> ParseHeader(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": empty file (0 bytes)"));
  if (IsJpeg(bytes)) return JpegHeader(bytes, name);
  if (IsPng(bytes)) return PngHeader(bytes, name);
  if (IsBmp(bytes)) return BmpHeader(bytes, name);
  if (IsTiff(bytes)) return TiffHeader(bytes, name);
  if (IsBigTiff(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": BigTIFF is not supported (its size cannot be checked before decoding); save it as TIFF, PNG or JPEG"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      name, ": not a readable image (JPEG, PNG, BMP and TIFF are read; their size is checked before decoding)"));
}

absl::StatusOr<ImageHeader> WithinLimit(absl::StatusOr<ImageHeader> h, int64_t max_pixels,
                                        const std::string& name) {
  if (!h.ok()) return h;
  absl::Status s = CheckImagePixels(h->width, h->height, max_pixels, name);
  if (!s.ok()) return s;
  return h;
}

int ReducedReadFlag(int reduction) {
  switch (reduction) {
    case 2: return cv::IMREAD_REDUCED_COLOR_2;
    case 4: return cv::IMREAD_REDUCED_COLOR_4;
    case 8: return cv::IMREAD_REDUCED_COLOR_8;
    default: return cv::IMREAD_COLOR;  // IMREAD_COLOR applies the EXIF orientation, as the reduced flags do
  }
}

}  // namespace

bool IsImageExtension(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string ext = Lower(path.substr(dot + 1));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "tif" || ext == "tiff";
}

absl::Status CheckImagePixels(int width, int height, int64_t max_pixels, const std::string& name) {
  const int64_t pixels = static_cast<int64_t>(width) * height;
  if (pixels <= max_pixels) return absl::OkStatus();
  const double bytes = 3.0 * pixels;  // decoded RGB
  const std::string memory =
      bytes >= 1e9 ? absl::StrFormat("%.1f GB", bytes / 1e9) : absl::StrFormat("%.0f MB", bytes / 1e6);
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s: image of %dx%d (%d pixels, %s decoded) is over the limit of %d pixels; to read it, raise "
      "IMAGE_MAX_PIXELS (train, evaluate: --set IMAGE_MAX_PIXELS=N; inspect: --image_max_pixels=N)",
      name, width, height, pixels, memory, max_pixels));
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return ss.str();
}

absl::StatusOr<ImageHeader> ReadImageHeaderFromBytes(const std::string& bytes, const std::string& name,
                                                     int64_t max_pixels) {
  return WithinLimit(ParseHeader(bytes, name), max_pixels, name);
}

absl::StatusOr<ImageHeader> ReadImageHeader(const std::string& path, int64_t max_pixels) {
  // Large files: a JPEG or PNG header sits in the first few hundred KiB (EXIF segments are at most
  // 64 KiB each) and the end markers in the last bytes, so read those two parts only; a BMP header
  // and most TIFF headers sit at the start. Datasets of many large images are checked without
  // reading them whole.
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
    absl::StatusOr<ImageHeader> h = absl::NotFoundError("");
    if (IsJpeg(head) || IsPng(head)) h = ParseHeader(head + tail, path);
    if (IsBmp(head) || IsTiff(head)) h = ParseHeader(head, path);
    if (h.ok()) return WithinLimit(h, max_pixels, path);  // otherwise read the whole file for the exact diagnosis
  }
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  return ReadImageHeaderFromBytes(*bytes, path, max_pixels);
}

int DecodeReduction(const ImageHeader& header, const DecodeOptions& options) {
  if (header.format != "jpeg" || options.target_height <= 0 || options.target_width <= 0) return 1;
  for (int r : {8, 4, 2}) {
    if (header.height % r == 0 && header.width % r == 0 && header.height / r >= options.target_height &&
        header.width / r >= options.target_width) {
      return r;
    }
  }
  return 1;
}

absl::StatusOr<DecodedImage> DecodeImage(const std::string& bytes, const std::string& name,
                                         const DecodeOptions& options) {
  absl::StatusOr<ImageHeader> header = ReadImageHeaderFromBytes(bytes, name, options.max_pixels);
  if (!header.ok()) return header.status();
  DecodedImage out;
  out.reduction = DecodeReduction(*header, options);
  out.height = header->height;
  out.width = header->width;
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": file of ", bytes.size(), " bytes is too large to decode"));
  }
  // The bytes are wrapped, not copied: a 100-megapixel BMP is a 300 MB file.
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(raw, ReducedReadFlag(out.reduction));
    if (bgr.empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": not a readable image"));
    cv::cvtColor(bgr, out.rgb, cv::COLOR_BGR2RGB);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": cannot decode the image (OpenCV: ", e.err, ")"));
  }
  if (out.rgb.cols * out.reduction != header->width || out.rgb.rows * out.reduction != header->height) {
    return absl::InternalError(absl::StrCat(name, ": decoded size ", out.rgb.cols, "x", out.rgb.rows,
                                            out.reduction > 1 ? absl::StrCat(" at 1/", out.reduction) : "",
                                            " differs from the header's ", header->width, "x",
                                            header->height));
  }
  return out;
}

absl::StatusOr<DecodedImage> ReadImage(const std::string& path, const DecodeOptions& options) {
  // The header first: a file over the limit is refused without reading it whole.
  absl::StatusOr<ImageHeader> header = ReadImageHeader(path, options.max_pixels);
  if (!header.ok()) return header.status();
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  return DecodeImage(*bytes, path, options);
}

absl::StatusOr<cv::Mat> DecodeImageRgb(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  absl::StatusOr<DecodedImage> d = DecodeImage(bytes, name, options);
  if (!d.ok()) return d.status();
  return std::move(d->rgb);
}

absl::StatusOr<cv::Mat> ReadImageRgb(const std::string& path, int64_t max_pixels) {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  absl::StatusOr<DecodedImage> d = ReadImage(path, options);
  if (!d.ok()) return d.status();
  return std::move(d->rgb);
}

}  // namespace mrcnn::datasets
