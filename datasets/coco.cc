#include "datasets/coco.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "datasets/image_io.h"
#include "datasets/loader_util.h"

namespace mrcnn::datasets {

namespace fs = std::filesystem;

absl::StatusOr<CocoOptions> FindCocoFiles(const std::string& dir) {
  if (internal::IsRegularFile(dir)) {
    return CocoOptions{dir, fs::path(dir).parent_path().string()};
  }
  if (!internal::IsDirectory(dir)) return absl::NotFoundError(absl::StrCat(dir, ": folder not found"));
  CocoOptions o;
  const fs::path root(dir);
  o.image_dir = internal::IsDirectory((root / "images").string()) ? (root / "images").string() : dir;
  if (internal::IsRegularFile((root / "annotations.json").string())) {
    o.annotation_file = (root / "annotations.json").string();
    return o;
  }
  std::vector<std::string> found;
  if (internal::IsDirectory((root / "annotations").string())) {
    for (const std::string& p : internal::ListFiles((root / "annotations").string())) {
      if (absl::StartsWith(fs::path(p).filename().string(), "instances_") && internal::Extension(p) == "json") {
        found.push_back(p);
      }
    }
  }
  if (found.empty()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      if (e.is_regular_file() && internal::Extension(e.path().string()) == "json") found.push_back(e.path().string());
    }
  }
  if (found.size() != 1) {
    return absl::NotFoundError(absl::StrCat(dir, ": expected annotations.json, annotations/instances_*.json or one *.json, found ",
                                            found.size(), " candidates"));
  }
  o.annotation_file = found[0];
  return o;
}

namespace {

struct CocoImage {
  std::string file_name;
  int width = 0, height = 0;
  std::vector<Annotation> annotations;
};

// The categories by id, each with a positive integer id; a name defaults to the id.
absl::StatusOr<std::map<long, std::string>> ReadCategories(const nlohmann::json& j, const std::string& file) {
  std::map<long, std::string> categories;
  for (const auto& c : j["categories"]) {
    if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer() || c["id"].get<long>() <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": category ", c.dump(), " has no positive integer id"));
    }
    categories[c["id"].get<long>()] =
        c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>() : std::to_string(c["id"].get<long>());
  }
  return categories;
}

// The images by id, in file order (`order`); entries without id or file_name and duplicates are
// problems.
absl::Status ReadImages(const nlohmann::json& j, const std::string& file, std::map<long, CocoImage>* images,
                        std::vector<long>* order, ProblemLog* log) {
  std::set<std::string> names;
  for (const auto& im : j["images"]) {
    if (!im.is_object() || !im.contains("id") || !im["id"].is_number_integer() || !im.contains("file_name") ||
        !im["file_name"].is_string()) {
      absl::Status s = log->Error(file, -1, absl::StrCat("image entry ", im.dump().substr(0, 120), " lacks id or file_name"));
      if (!s.ok()) return s;
      continue;
    }
    CocoImage ci;
    ci.file_name = im["file_name"].get<std::string>();
    if (im.contains("width") && im["width"].is_number_integer()) ci.width = im["width"];
    if (im.contains("height") && im["height"].is_number_integer()) ci.height = im["height"];
    const long id = im["id"].get<long>();
    if (images->count(id) || !names.insert(ci.file_name).second) {
      absl::Status s = log->Error(file, -1, absl::StrCat("duplicate image id ", id, " or file_name \"", ci.file_name, "\""));
      if (!s.ok()) return s;
      continue;
    }
    (*images)[id] = ci;
    order->push_back(id);
  }
  return absl::OkStatus();
}

// An annotation's segmentation into `ann`: polygons, or uncompressed or compressed RLE of the image's
// size. Returns why it cannot be read; empty when it was.
std::string ReadSegmentation(const nlohmann::json& a, const CocoImage& img, Annotation* ann) {
  std::string why;
  if (!a.contains("segmentation")) {
    why = "no segmentation";
  } else if (a["segmentation"].is_array()) {
    for (const auto& poly : a["segmentation"]) {
      Polygon p;
      why = internal::ReadFlatPoints(poly, &p);
      if (!why.empty()) break;
      ann->polygons.push_back(std::move(p));
    }
  } else if (a["segmentation"].is_object() && a["segmentation"].contains("counts") &&
             a["segmentation"].contains("size") && a["segmentation"]["size"].is_array() &&
             a["segmentation"]["size"].size() == 2) {
    const auto& seg = a["segmentation"];
    const int h = seg["size"][0].is_number_integer() ? seg["size"][0].get<int>() : -1;
    const int w = seg["size"][1].is_number_integer() ? seg["size"][1].get<int>() : -1;
    if (h != img.height || w != img.width) {
      why = absl::StrCat("RLE size ", h, "x", w, " (h x w) differs from the image's ", img.height, "x", img.width);
    } else if (seg["counts"].is_string()) {
      absl::StatusOr<std::vector<uint32_t>> counts = DecodeCompressedRleCounts(seg["counts"].get<std::string>());
      if (counts.ok()) ann->rle_counts = *std::move(counts);
      else why = std::string(counts.status().message());
    } else if (seg["counts"].is_array()) {
      for (const auto& c : seg["counts"]) {
        if (!c.is_number_integer() || c.get<long>() < 0) {
          why = absl::StrCat("RLE count ", c.dump(), " is not a non-negative integer");
          break;
        }
        ann->rle_counts.push_back(static_cast<uint32_t>(c.get<long>()));
      }
    } else {
      why = "RLE counts is neither a list nor a string";
    }
    if (why.empty() && ann->rle_counts.empty()) why = "RLE with no runs";
  } else {
    why = "segmentation is neither a polygon list nor an RLE object";
  }
  return why;
}

// Every annotation to its image; ones naming no image or category, or whose segmentation cannot be
// read, are problems.
absl::Status ReadAnnotations(const nlohmann::json& j, const std::string& file,
                             const std::map<long, std::string>& categories, std::map<long, CocoImage>* images,
                             ProblemLog* log) {
  const auto& anns = j["annotations"];
  for (int i = 0; i < static_cast<int>(anns.size()); ++i) {
    const nlohmann::json& a = anns[i];
    auto fail = [&](const std::string& why) { return log->Error(file, i, why); };
    if (!a.is_object() || !a.contains("image_id") || !a["image_id"].is_number_integer() ||
        !images->count(a["image_id"].get<long>())) {
      absl::Status s = fail("annotation's image_id is missing or names no image");
      if (!s.ok()) return s;
      continue;
    }
    CocoImage& img = (*images)[a["image_id"].get<long>()];
    if (!a.contains("category_id") || !a["category_id"].is_number_integer() ||
        !categories.count(a["category_id"].get<long>())) {
      absl::Status s = fail(absl::StrCat("category_id ", a.contains("category_id") ? a["category_id"].dump() : "(missing)",
                                         " is not in the class map (categories)"));
      if (!s.ok()) return s;
      continue;
    }
    Annotation ann;
    ann.class_id = static_cast<int>(a["category_id"].get<long>());
    ann.category = categories.at(ann.class_id);
    ann.source_index = i;
    ann.crowd = a.contains("iscrowd") && a["iscrowd"].is_number() && a["iscrowd"].get<double>() != 0;
    std::string why = ReadSegmentation(a, img, &ann);
    if (!why.empty()) {
      absl::Status s = fail(why);
      if (!s.ok()) return s;
      continue;
    }
    img.annotations.push_back(std::move(ann));
  }
  return absl::OkStatus();
}

// Adds one image (found beside the annotation file when not in the image folder; header checked
// against the file's size) with its annotations to `ds`.
absl::Status AddCocoImage(CocoImage& ci, const CocoOptions& options, Dataset* ds, ProblemLog* log) {
  const std::string& file = options.annotation_file;
  std::string path = (fs::path(options.image_dir) / ci.file_name).string();
  if (!internal::IsRegularFile(path)) {
    const std::string alt = (fs::path(file).parent_path() / ci.file_name).string();
    if (internal::IsRegularFile(alt)) path = alt;
  }
  absl::StatusOr<ImageHeader> header = ReadImageHeader(path, options.image_max_pixels);
  if (!header.ok()) {
    absl::Status s = log->Error(path, -1, internal::Reason(header.status(), path));
    if (!s.ok()) return s;
    return absl::OkStatus();
  }
  if ((ci.width > 0 && ci.width != header->width) || (ci.height > 0 && ci.height != header->height)) {
    absl::Status s = log->Error(path, -1, absl::StrCat("image is ", header->width, "x", header->height, " but ", file,
                                                       " says ", ci.width, "x", ci.height));
    if (!s.ok()) return s;
    return absl::OkStatus();
  }
  ImageInfo info;
  info.source = "coco";
  info.id = fs::path(ci.file_name).replace_extension().generic_string();
  info.path = path;
  info.label_path = file;
  info.group = fs::path(ci.file_name).parent_path().generic_string();
  info.width = header->width;
  info.height = header->height;
  for (Annotation& a : ci.annotations) {
    absl::Status added = internal::AddCheckedAnnotation(std::move(a), file, &info, log);
    if (!added.ok()) return added;
  }
  ds->AddImage(std::move(info));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Dataset> LoadCoco(const CocoOptions& options, ProblemLog* log) {
  const std::string& file = options.annotation_file;
  absl::StatusOr<std::string> text = ReadFileBytes(file);
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> j = internal::ParseJsonLenient(*text, file);
  if (!j.ok()) return j.status();
  for (const char* key : {"images", "annotations", "categories"}) {
    if (!j->is_object() || !j->contains(key) || !(*j)[key].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": not a COCO instances file (no \"", key, "\" list)"));
    }
  }
  Dataset ds;
  ds.set_image_max_pixels(options.image_max_pixels);
  absl::StatusOr<std::map<long, std::string>> categories = ReadCategories(*j, file);
  if (!categories.ok()) return categories.status();
  for (const auto& [id, name] : *categories) {
    absl::Status s = ds.AddClass("coco", static_cast<int>(id), name);
    if (!s.ok()) return s;
  }
  std::map<long, CocoImage> images;
  std::vector<long> order;
  absl::Status read = ReadImages(*j, file, &images, &order, log);
  if (read.ok()) read = ReadAnnotations(*j, file, *categories, &images, log);
  if (!read.ok()) return read;
  for (long id : order) {
    absl::Status s = AddCocoImage(images[id], options, &ds, log);
    if (!s.ok()) return s;
  }
  absl::Status s = ds.Prepare();
  if (!s.ok()) return s;
  return ds;
}

}  // namespace mrcnn::datasets
