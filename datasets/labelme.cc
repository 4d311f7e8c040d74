#include "datasets/labelme.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "datasets/image_io.h"
#include "datasets/loader_util.h"

namespace mrcnn::datasets {

namespace fs = std::filesystem;

absl::StatusOr<std::string> DecodeBase64(const std::string& text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') break;
    else if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    else return absl::InvalidArgumentError(absl::StrCat("invalid base64 character '", std::string(1, c), "'"));
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

namespace {

struct Shape {
  std::string label;
  std::string type;
  Polygon points;
  bool has_group = false;
  long group = 0;
  int index = 0;
};

struct LabelFile {
  std::string path;
  std::string image_path;   // resolved image file, or "" when embedded
  std::string encoded;      // imageData bytes when the file is not found
  int json_width = 0, json_height = 0;
  std::vector<Shape> shapes;
};

// Resolves the image of a labelme file; returns "" when none is found on disk.
std::string FindImage(const std::string& json_path, const std::string& image_path) {
  const fs::path dir = fs::path(json_path).parent_path();
  std::vector<fs::path> candidates;
  if (!image_path.empty()) {
    const std::string unix_path = absl::StrReplaceAll(image_path, {{"\\", "/"}});
    candidates.push_back(dir / unix_path);
    candidates.push_back(dir / fs::path(unix_path).filename());
  }
  for (const char* ext : {".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".bmp", ".tif", ".tiff"}) {
    candidates.push_back(fs::path(json_path).replace_extension(ext));
  }
  for (const fs::path& c : candidates) {
    if (internal::IsRegularFile(c.string()) && IsImageExtension(c.string())) return c.string();
  }
  return "";
}

}  // namespace

namespace {

// The shapes that make masks, each checked; `labels` collects their class names.
absl::Status ReadShapes(const nlohmann::json& shapes, LabelFile* lf, std::set<std::string>* labels,
                        ProblemLog* log) {
  for (int i = 0; i < static_cast<int>(shapes.size()); ++i) {
    const nlohmann::json& e = shapes[i];
    Shape sh;
    sh.index = i;
    std::string why;
    if (!e.is_object() || !e.contains("label") || !e["label"].is_string()) {
      why = "shape without a \"label\" string";
    } else {
      sh.label = e["label"].get<std::string>();
      sh.type = e.contains("shape_type") && e["shape_type"].is_string() ? e["shape_type"].get<std::string>()
                                                                       : "polygon";
      if (e.contains("group_id") && e["group_id"].is_number_integer()) {
        sh.has_group = true;
        sh.group = e["group_id"].get<long>();
      }
      if (sh.label == "__ignore__") continue;
      if (absl::StripAsciiWhitespace(sh.label).empty()) {
        why = "empty \"label\": every shape needs a class name (\"__ignore__\" skips a shape)";
      } else if (sh.type != "polygon" && sh.type != "rectangle" && sh.type != "circle") {
        why = absl::StrCat("unsupported shape_type \"", sh.type, "\" (polygon, rectangle and circle make masks)");
      } else {
        why = internal::ReadPointPairs(e.contains("points") ? e["points"] : nlohmann::json(), &sh.points);
        if (why.empty() && sh.type != "polygon" && sh.points.size() != 2) {
          why = absl::StrCat(sh.type, " needs 2 points, got ", sh.points.size());
        }
      }
    }
    if (!why.empty()) {
      absl::Status s = log->Error(lf->path, i, why);
      if (!s.ok()) return s;
      continue;
    }
    labels->insert(sh.label);
    lf->shapes.push_back(std::move(sh));
  }
  return absl::OkStatus();
}

// One labelme JSON file: its image (file or embedded imageData) and its shapes. nullopt: the file is
// skipped (the problem is logged); an error: the log is strict.
absl::StatusOr<std::optional<LabelFile>> ReadLabelFile(const std::string& path, const LabelmeOptions& options,
                                                       std::map<std::string, std::string>* stems,
                                                       std::set<std::string>* labels, ProblemLog* log) {
  auto fail = [&](const std::string& reason) { return log->Error(path, -1, reason); };
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  if (!text.ok()) {
    absl::Status s = fail(internal::Reason(text.status(), path));
    if (!s.ok()) return s;
    return std::nullopt;
  }
  absl::StatusOr<nlohmann::json> j = internal::ParseJsonLenient(*text, path);
  if (!j.ok()) {
    absl::Status s = fail(internal::Reason(j.status(), path));
    if (!s.ok()) return s;
    return std::nullopt;
  }
  if (!j->is_object() || !j->contains("shapes") || !(*j)["shapes"].is_array()) {
    absl::Status s = fail("not a labelme file (no \"shapes\" list)");
    if (!s.ok()) return s;
    return std::nullopt;
  }
  LabelFile lf;
  lf.path = path;
  const std::string image_path =
      j->contains("imagePath") && (*j)["imagePath"].is_string() ? (*j)["imagePath"].get<std::string>() : "";
  if (j->contains("imageWidth") && (*j)["imageWidth"].is_number_integer()) lf.json_width = (*j)["imageWidth"];
  if (j->contains("imageHeight") && (*j)["imageHeight"].is_number_integer()) lf.json_height = (*j)["imageHeight"];
  lf.image_path = FindImage(path, image_path);
  if (lf.image_path.empty()) {
    const bool has_data = j->contains("imageData") && (*j)["imageData"].is_string() &&
                          !(*j)["imageData"].get<std::string>().empty();
    if (!has_data) {
      absl::Status s = fail(absl::StrCat("imagePath \"", image_path,
                                         "\" is not an image file and there is no imageData"));
      if (!s.ok()) return s;
      return std::nullopt;
    }
    absl::StatusOr<std::string> bytes = DecodeBase64((*j)["imageData"].get<std::string>());
    if (!bytes.ok()) {
      absl::Status s = fail(absl::StrCat("imageData: ", bytes.status().message()));
      if (!s.ok()) return s;
      return std::nullopt;
    }
    lf.encoded = *std::move(bytes);
  }
  const std::string stem = internal::RelativeStem(path, options.dir);
  if (!stems->emplace(stem, path).second) {
    absl::Status s = fail(absl::StrCat("duplicate stem: ", (*stems)[stem], " has the same name"));
    if (!s.ok()) return s;
    return std::nullopt;
  }
  absl::Status s = ReadShapes((*j)["shapes"], &lf, labels, log);
  if (!s.ok()) return s;
  return lf;
}

// The file's instances: shapes sharing (label, group_id) are one; shapes without group_id stand alone.
absl::StatusOr<std::vector<Annotation>> GroupShapes(const LabelFile& lf, const ClassMap& map, ProblemLog* log) {
  std::vector<Annotation> instances;
  std::map<std::pair<std::string, long>, int> group_index;
  for (const Shape& sh : lf.shapes) {
    const int class_id = map.IdOf(sh.label);
    if (class_id < 0) {
      absl::Status s = log->Error(lf.path, sh.index, absl::StrCat("label \"", sh.label, "\" is not in the class map"));
      if (!s.ok()) return s;
      continue;
    }
    Annotation* a;
    const auto key = std::make_pair(sh.label, sh.group);
    if (sh.has_group && group_index.count(key)) {
      a = &instances[group_index[key]];
    } else {
      if (sh.has_group) group_index[key] = static_cast<int>(instances.size());
      instances.emplace_back();
      a = &instances.back();
      a->class_id = class_id;
      a->category = sh.label;
      a->source_index = sh.index;
    }
    if (sh.type == "polygon") {
      a->polygons.push_back(sh.points);
    } else if (sh.type == "rectangle") {
      const Point& p = sh.points[0];
      const Point& q = sh.points[1];
      a->polygons.push_back({{p.x, p.y}, {q.x, p.y}, {q.x, q.y}, {p.x, q.y}});
    } else {
      const Point& c = sh.points[0];
      const Point& r = sh.points[1];
      a->circles.push_back({c, std::hypot(r.x - c.x, r.y - c.y)});
    }
  }
  return instances;
}

// Adds the file's image (header checked) with its instances to `ds`.
absl::Status AddLabelFile(LabelFile& lf, const LabelmeOptions& options, const ClassMap& map, Dataset* ds,
                          ProblemLog* log) {
  const std::string image_name = lf.image_path.empty() ? lf.path + " (imageData)" : lf.image_path;
  absl::StatusOr<ImageHeader> header =
      lf.image_path.empty() ? ReadImageHeaderFromBytes(lf.encoded, image_name, options.image_max_pixels)
                            : ReadImageHeader(lf.image_path, options.image_max_pixels);
  if (!header.ok()) {
    absl::Status s = log->Error(image_name, -1, internal::Reason(header.status(), image_name));
    if (!s.ok()) return s;
    return absl::OkStatus();
  }
  if ((lf.json_width > 0 && lf.json_width != header->width) ||
      (lf.json_height > 0 && lf.json_height != header->height)) {
    log->Warning(lf.path, -1, absl::StrCat("imageWidth x imageHeight ", lf.json_width, "x", lf.json_height,
                                           " differ from the image's ", header->width, "x", header->height,
                                           " (using the image's)"));
  }
  ImageInfo info;
  info.source = "labelme";
  info.id = internal::RelativeStem(lf.path, options.dir);
  info.path = lf.image_path;
  info.encoded = std::move(lf.encoded);
  info.label_path = lf.path;
  info.group = fs::path(info.id).parent_path().generic_string();
  info.width = header->width;
  info.height = header->height;
  absl::StatusOr<std::vector<Annotation>> instances = GroupShapes(lf, map, log);
  if (!instances.ok()) return instances.status();
  for (Annotation& a : *instances) {
    absl::Status added = internal::AddCheckedAnnotation(std::move(a), lf.path, &info, log);
    if (!added.ok()) return added;
  }
  ds->AddImage(std::move(info));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Dataset> LoadLabelme(const LabelmeOptions& options, ProblemLog* log) {
  if (!internal::IsDirectory(options.dir)) {
    return absl::NotFoundError(absl::StrCat(options.dir, ": folder not found"));
  }
  std::vector<LabelFile> files;
  std::set<std::string> labels;
  std::map<std::string, std::string> stems;  // relative stem -> first JSON (duplicate check)
  for (const std::string& path : internal::ListFiles(options.dir)) {
    if (internal::Extension(path) != "json") continue;
    absl::StatusOr<std::optional<LabelFile>> lf = ReadLabelFile(path, options, &stems, &labels, log);
    if (!lf.ok()) return lf.status();
    if (*lf) files.push_back(std::move(**lf));
  }

  Dataset ds;
  ds.set_image_max_pixels(options.image_max_pixels);
  absl::StatusOr<ClassMap> mapped = internal::AddMappedClasses("labelme", options.class_map, labels, &ds);
  if (!mapped.ok()) return mapped.status();
  for (LabelFile& lf : files) {
    absl::Status s = AddLabelFile(lf, options, *mapped, &ds, log);
    if (!s.ok()) return s;
  }
  absl::Status s = ds.Prepare();
  if (!s.ok()) return s;
  return ds;
}

}  // namespace mrcnn::datasets
