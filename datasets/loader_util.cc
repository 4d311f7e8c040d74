#include "datasets/loader_util.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "mrcnn/config/untrusted.h"

namespace mrcnn::datasets::internal {

namespace fs = std::filesystem;

absl::StatusOr<nlohmann::json> ParseJsonLenient(const std::string& text, const std::string& file) {
  std::string fixed;
  fixed.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      fixed += c;
      if (c == '\\' && i + 1 < text.size()) {
        fixed += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      fixed += c;
      continue;
    }
    bool replaced = false;
    for (const char* token : {"-Infinity", "Infinity", "NaN"}) {
      const size_t n = std::char_traits<char>::length(token);
      if (text.compare(i, n, token) == 0) {
        absl::StrAppend(&fixed, "\"", token, "\"");
        i += n - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) fixed += c;
  }
  return ParseUntrustedJson(fixed, file);
}

namespace {

std::string ReadCoordinate(const nlohmann::json& v, double* out) {
  if (v.is_number()) {
    *out = v.get<double>();
    if (std::isnan(*out)) return "NaN coordinate";
    if (std::isinf(*out)) return "infinite coordinate";
    return "";
  }
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "NaN") return "NaN coordinate";
    if (s == "Infinity" || s == "-Infinity") return "infinite coordinate";
  }
  return absl::StrCat("coordinate ", v.dump(), " is not a number");
}

}  // namespace

std::string ReadPointPairs(const nlohmann::json& points, Polygon* out) {
  out->clear();
  if (!points.is_array()) return "points is not a list of [x, y] pairs";
  for (const auto& p : points) {
    if (!p.is_array() || p.size() != 2) return absl::StrCat("point ", p.dump(), " is not an [x, y] pair");
    Point q;
    std::string why = ReadCoordinate(p[0], &q.x);
    if (why.empty()) why = ReadCoordinate(p[1], &q.y);
    if (!why.empty()) return why;
    out->push_back(q);
  }
  return "";
}

std::string ReadFlatPoints(const nlohmann::json& flat, Polygon* out) {
  out->clear();
  if (!flat.is_array()) return "polygon is not a list of numbers";
  if (flat.size() % 2 != 0) return absl::StrCat("polygon has an odd number of coordinates (", flat.size(), ")");
  for (size_t i = 0; i < flat.size(); i += 2) {
    Point q;
    std::string why = ReadCoordinate(flat[i], &q.x);
    if (why.empty()) why = ReadCoordinate(flat[i + 1], &q.y);
    if (!why.empty()) return why;
    out->push_back(q);
  }
  return "";
}

absl::StatusOr<bool> CheckAnnotation(const Annotation& a, const std::string& file, int width,
                                     int height, ProblemLog* log) {
  const int idx = a.source_index;
  for (const Polygon& p : a.polygons) {
    if (p.size() < 3) {
      absl::Status s = log->Error(file, idx, absl::StrCat("polygon with fewer than 3 points (",
                                                          p.size(), ")"));
      if (!s.ok()) return s;
      return false;
    }
  }
  for (const Polygon& p : a.polygons) {
    const int outside = CountPointsOutside(p, width, height);
    if (outside > 0) {
      log->Warning(file, idx, absl::StrCat(outside, " of ", p.size(), " points outside the ", width, "x",
                                           height, " image (clipped)"));
      log->Count("points outside the image (clipped)", outside);
    }
    if (SelfIntersects(p)) {
      log->Warning(file, idx, "self-intersecting polygon (rasterised with the even-odd rule)");
      log->Count("self-intersecting polygons", 1);
    }
  }
  absl::StatusOr<cv::Mat> mask = RasteriseAnnotation(a, height, width);
  if (!mask.ok()) {
    absl::Status s = log->Error(file, idx, std::string(mask.status().message()));
    if (!s.ok()) return s;
    return false;
  }
  if (cv::countNonZero(*mask) == 0) {
    absl::Status s = log->Error(file, idx, "empty mask (the shape covers no pixel centre of the image)");
    if (!s.ok()) return s;
    return false;
  }
  return true;
}

absl::Status AddCheckedAnnotation(Annotation a, const std::string& file, ImageInfo* info,
                                  ProblemLog* log) {
  absl::StatusOr<bool> keep = CheckAnnotation(a, file, info->width, info->height, log);
  if (!keep.ok()) return keep.status();
  if (*keep) info->annotations.push_back(std::move(a));
  return absl::OkStatus();
}

absl::StatusOr<ClassMap> AddMappedClasses(const std::string& source, const ClassMap& given,
                                          const std::set<std::string>& codes, Dataset* ds) {
  ClassMap map = given.empty() ? DiscoverClassMap(codes) : given;
  for (int i = 0; i < map.size(); ++i) {
    absl::Status s = ds->AddClass(source, i + 1, map.names[i]);
    if (!s.ok()) return s;
  }
  return map;
}

std::string Reason(const absl::Status& status, const std::string& file) {
  const std::string msg(status.message());
  const std::string prefix = file + ": ";
  return msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size()) : msg;
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RelativeStem(const std::string& path, const std::string& root) {
  fs::path rel = fs::path(path).lexically_relative(root);
  rel.replace_extension();
  return rel.generic_string();
}

std::string Extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (!ext.empty()) ext = ext.substr(1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

bool IsDirectory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

}  // namespace mrcnn::datasets::internal
