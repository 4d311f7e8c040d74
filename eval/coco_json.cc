#include "eval/coco_json.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "mrcnn/config/untrusted.h"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open file"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return text.str();
}

absl::StatusOr<json> ParseJson(const std::string& text, const std::string& source) {
  return ::mrcnn::ParseUntrustedJson(text, source);
}

// Errors below carry only the reason; callers prefix "<source>: <item>: ".
absl::Status Bad(const std::string& reason) { return absl::InvalidArgumentError(reason); }

absl::StatusOr<int64_t> AsInt(const json& j, const char* key) {
  if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t{INT64_MAX}) {
      return Bad(absl::StrCat(key, " is out of range"));
    }
    return j.get<int64_t>();
  }
  if (j.is_number_float()) {
    const double v = j.get<double>();
    if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9e15) {
      return static_cast<int64_t>(v);
    }
  }
  return Bad(absl::StrCat(key, " must be an integer, got ", j.dump()));
}

absl::StatusOr<double> AsDouble(const json& j, const char* key) {
  if (!j.is_number()) return Bad(absl::StrCat(key, " must be a number, got ", j.dump()));
  return j.get<double>();
}

absl::StatusOr<int64_t> IntField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(absl::StrCat("missing \"", key, "\""));
  return AsInt(*it, key);
}

absl::StatusOr<double> DoubleField(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(absl::StrCat("missing \"", key, "\""));
  return AsDouble(*it, key);
}

absl::StatusOr<Box> ParseBox(const json& j) {
  if (!j.is_array() || j.size() != 4) {
    return Bad(absl::StrCat("bbox must be [x, y, w, h], got ", j.dump()));
  }
  double v[4];
  for (int c = 0; c < 4; ++c) {
    if (!j[c].is_number()) return Bad(absl::StrCat("bbox must hold numbers, got ", j.dump()));
    v[c] = j[c].get<double>();
    if (!std::isfinite(v[c])) return Bad("bbox has a non-finite value");
  }
  if (v[2] < 0 || v[3] < 0) {
    return Bad(absl::StrCat("bbox ", j.dump(), " has a negative width or height"));
  }
  return Box{v[0], v[1], v[2], v[3]};
}

// An RLE object {"size": [h, w], "counts": [runs...] or "compressed"}, checked against the image.
absl::StatusOr<Rle> ParseRle(const json& j, const CocoImage& image) {
  auto size = j.find("size");
  auto counts = j.find("counts");
  if (size == j.end() || counts == j.end()) {
    return Bad("RLE segmentation needs \"size\" and \"counts\"");
  }
  if (!size->is_array() || size->size() != 2) {
    return Bad(absl::StrCat("RLE size must be [height, width], got ", size->dump()));
  }
  absl::StatusOr<int64_t> h = AsInt((*size)[0], "RLE height");
  absl::StatusOr<int64_t> w = AsInt((*size)[1], "RLE width");
  if (!h.ok()) return h.status();
  if (!w.ok()) return w.status();
  if (*h != image.height || *w != image.width) {
    return Bad(absl::StrCat("RLE size [", *h, ", ", *w, "] differs from image ", image.id, "'s [",
                            image.height, ", ", image.width, "]"));
  }
  Rle rle;
  if (counts->is_string()) {
    absl::StatusOr<Rle> parsed = RleFromCompressedString(counts->get<std::string>(), *h, *w);
    if (!parsed.ok()) return parsed.status();
    rle = *std::move(parsed);
  } else if (counts->is_array()) {
    rle.height = *h;
    rle.width = *w;
    rle.counts.reserve(counts->size());
    for (const json& c : *counts) {
      absl::StatusOr<int64_t> v = AsInt(c, "RLE count");
      if (!v.ok()) return v.status();
      if (*v < 0 || *v > int64_t{UINT32_MAX}) {
        return Bad(absl::StrCat("RLE count ", *v, " is negative or too large"));
      }
      rle.counts.push_back(static_cast<uint32_t>(*v));
    }
    if (absl::Status s = ValidateRle(rle); !s.ok()) return s;
  } else {
    return Bad(absl::StrCat("RLE counts must be a list or a string, got ", counts->type_name()));
  }
  return rle;
}

absl::StatusOr<CocoSegmentation> ParseSegmentation(const json& j, const CocoImage& image) {
  CocoSegmentation seg;
  if (j.is_array()) {
    for (size_t p = 0; p < j.size(); ++p) {
      const json& poly = j[p];
      if (!poly.is_array()) {
        return Bad(absl::StrCat("segmentation polygon ", p, " must be a list of numbers"));
      }
      std::vector<double> xy;
      xy.reserve(poly.size());
      for (const json& v : poly) {
        if (!v.is_number()) {
          return Bad(absl::StrCat("segmentation polygon ", p, " holds a non-number ", v.dump()));
        }
        xy.push_back(v.get<double>());
      }
      seg.polygons.push_back(std::move(xy));
    }
  } else if (j.is_object()) {
    absl::StatusOr<Rle> rle = ParseRle(j, image);
    if (!rle.ok()) return rle.status();
    seg.rle = *std::move(rle);
  } else {
    return Bad(absl::StrCat("segmentation must be polygons or an RLE object, got ", j.type_name()));
  }
  return seg;
}

absl::Status Prefix(const absl::Status& s, const std::string& where) {
  return absl::Status(s.code(), absl::StrCat(where, s.message()));
}

}  // namespace

absl::StatusOr<CocoDataset> ParseCocoGroundTruth(const std::string& text,
                                                 const std::string& source) {
  absl::StatusOr<json> doc = ParseJson(text, source);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return Bad(absl::StrCat(source, ": ground truth must be a JSON object"));
  CocoDataset ds;
  auto section = [&](const char* name, bool required) -> absl::StatusOr<const json*> {
    auto it = doc->find(name);
    if (it == doc->end()) {
      if (required) return Bad(absl::StrCat(source, ": missing \"", name, "\" list"));
      return nullptr;
    }
    if (!it->is_array()) return Bad(absl::StrCat(source, ": \"", name, "\" must be a list"));
    return &*it;
  };

  absl::StatusOr<const json*> images = section("images", true);
  if (!images.ok()) return images.status();
  std::unordered_map<int64_t, size_t> image_index;
  for (size_t j = 0; j < (*images)->size(); ++j) {
    const json& e = (**images)[j];
    const std::string where = absl::StrCat(source, ": images[", j, "]: ");
    if (!e.is_object()) return Bad(absl::StrCat(where, "must be an object"));
    CocoImage img;
    absl::StatusOr<int64_t> id = IntField(e, "id");
    absl::StatusOr<int64_t> h = IntField(e, "height");
    absl::StatusOr<int64_t> w = IntField(e, "width");
    for (const absl::Status& s : {id.status(), h.status(), w.status()}) {
      if (!s.ok()) return Prefix(s, where);
    }
    img.id = *id;
    img.height = *h;
    img.width = *w;
    if (img.height <= 0 || img.width <= 0) {
      return Bad(absl::StrCat(where, "size ", img.height, "x", img.width, " is not positive"));
    }
    if (auto f = e.find("file_name"); f != e.end() && f->is_string()) img.file_name = *f;
    if (!image_index.emplace(img.id, ds.images.size()).second) {
      return Bad(absl::StrCat(where, "duplicate image id ", img.id));
    }
    ds.images.push_back(std::move(img));
  }

  absl::StatusOr<const json*> categories = section("categories", true);
  if (!categories.ok()) return categories.status();
  for (size_t j = 0; j < (*categories)->size(); ++j) {
    const json& e = (**categories)[j];
    const std::string where = absl::StrCat(source, ": categories[", j, "]: ");
    if (!e.is_object()) return Bad(absl::StrCat(where, "must be an object"));
    absl::StatusOr<int64_t> id = IntField(e, "id");
    if (!id.ok()) return Prefix(id.status(), where);
    CocoCategory c;
    c.id = *id;
    if (auto n = e.find("name"); n != e.end() && n->is_string()) c.name = *n;
    ds.categories.push_back(std::move(c));
  }

  absl::StatusOr<const json*> annotations = section("annotations", false);
  if (!annotations.ok()) return annotations.status();
  if (*annotations != nullptr) {
    for (size_t j = 0; j < (*annotations)->size(); ++j) {
      const json& e = (**annotations)[j];
      std::string where = absl::StrCat(source, ": annotations[", j, "]: ");
      if (!e.is_object()) return Bad(absl::StrCat(where, "must be an object"));
      CocoAnnotation ann;
      absl::StatusOr<int64_t> id = IntField(e, "id");
      if (!id.ok()) return Prefix(id.status(), where);
      ann.id = *id;
      where = absl::StrCat(source, ": annotations[", j, "] (id ", ann.id, "): ");
      absl::StatusOr<int64_t> image_id = IntField(e, "image_id");
      absl::StatusOr<int64_t> category_id = IntField(e, "category_id");
      absl::StatusOr<double> area = DoubleField(e, "area");
      for (const absl::Status& s : {image_id.status(), category_id.status(), area.status()}) {
        if (!s.ok()) return Prefix(s, where);
      }
      ann.image_id = *image_id;
      ann.category_id = *category_id;
      ann.area = *area;
      auto img = image_index.find(ann.image_id);
      if (img == image_index.end()) {
        return Bad(absl::StrCat(where, "image_id ", ann.image_id, " is not in the images list"));
      }
      auto bbox = e.find("bbox");
      if (bbox == e.end()) return Bad(absl::StrCat(where, "missing \"bbox\""));
      absl::StatusOr<Box> box = ParseBox(*bbox);
      if (!box.ok()) return Prefix(box.status(), where);
      ann.bbox = *box;
      if (auto crowd = e.find("iscrowd"); crowd != e.end()) {
        if (crowd->is_boolean()) {
          ann.iscrowd = crowd->get<bool>();
        } else {
          absl::StatusOr<int64_t> c = AsInt(*crowd, "iscrowd");
          if (!c.ok() || (*c != 0 && *c != 1)) {
            return Bad(absl::StrCat(where, "iscrowd must be 0 or 1, got ", crowd->dump()));
          }
          ann.iscrowd = *c == 1;
        }
      }
      if (auto seg = e.find("segmentation"); seg != e.end()) {
        absl::StatusOr<CocoSegmentation> s = ParseSegmentation(*seg, ds.images[img->second]);
        if (!s.ok()) return Prefix(s.status(), where);
        ann.segmentation = *std::move(s);
      }
      ds.annotations.push_back(std::move(ann));
    }
  }
  return ds;
}

absl::StatusOr<CocoDataset> LoadCocoGroundTruth(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseCocoGroundTruth(*text, path);
}

absl::StatusOr<std::vector<Detection>> ParseCocoResults(const std::string& text,
                                                        const std::string& source,
                                                        const CocoDataset& gt,
                                                        bool ignore_unknown_categories) {
  absl::StatusOr<json> doc = ParseJson(text, source);
  if (!doc.ok()) return doc.status();
  if (!doc->is_array()) return Bad(absl::StrCat(source, ": results must be a JSON list"));
  std::unordered_map<int64_t, const CocoImage*> images;
  for (const CocoImage& img : gt.images) images[img.id] = &img;
  std::unordered_map<int64_t, int> categories;
  for (const CocoCategory& c : gt.categories) categories[c.id] = 0;

  auto has_box = [](const json& e) {
    auto b = e.find("bbox");
    return b != e.end() && !(b->is_array() && b->empty());
  };
  // pycocotools' loadRes decides from the first result whether these are box or mask results.
  const bool box_results = !doc->empty() && (*doc)[0].is_object() && has_box((*doc)[0]);

  std::vector<Detection> detections;
  detections.reserve(doc->size());
  for (size_t j = 0; j < doc->size(); ++j) {
    const json& e = (*doc)[j];
    std::string where = absl::StrCat(source, ": result ", j, ": ");
    if (!e.is_object()) return Bad(absl::StrCat(where, "must be an object"));
    Detection d;
    absl::StatusOr<int64_t> image_id = IntField(e, "image_id");
    absl::StatusOr<int64_t> category_id = IntField(e, "category_id");
    absl::StatusOr<double> score = DoubleField(e, "score");
    for (const absl::Status& s : {image_id.status(), category_id.status(), score.status()}) {
      if (!s.ok()) return Prefix(s, where);
    }
    d.image_id = *image_id;
    d.category_id = *category_id;
    d.score = *score;
    where = absl::StrCat(source, ": result ", j, " (image_id ", d.image_id, "): ");
    auto img = images.find(d.image_id);
    if (img == images.end()) {
      return Bad(absl::StrCat(where, "image_id ", d.image_id, " is not in the ground truth"));
    }
    if (!categories.count(d.category_id)) {
      if (ignore_unknown_categories) continue;
      return Bad(absl::StrCat(where, "category_id ", d.category_id,
                              " is not in the ground truth's categories"));
    }
    if (!std::isfinite(d.score)) return Bad(absl::StrCat(where, "score is not finite"));
    if (has_box(e)) {
      absl::StatusOr<Box> box = ParseBox(e["bbox"]);
      if (!box.ok()) return Prefix(box.status(), where);
      d.bbox = *box;
    }
    if (auto seg = e.find("segmentation"); seg != e.end()) {
      if (!seg->is_object()) {
        return Bad(
            absl::StrCat(where, "segmentation must be an RLE object {\"size\", \"counts\"}"));
      }
      absl::StatusOr<Rle> rle = ParseRle(*seg, *img->second);
      if (!rle.ok()) return Prefix(rle.status(), where);
      d.mask = *std::move(rle);
    }
    if (box_results) {
      if (!d.bbox) {
        return Bad(absl::StrCat(where, "has no bbox, but the first result has one (box results)"));
      }
      d.area = d.bbox->w * d.bbox->h;
    } else {
      if (!d.mask) {
        return Bad(absl::StrCat(
            where, "has no segmentation, but the first result has no bbox (mask results)"));
      }
      d.area = static_cast<double>(RleArea(*d.mask));
    }
    detections.push_back(std::move(d));
  }
  return detections;
}

absl::StatusOr<std::vector<Detection>> LoadCocoResults(const std::string& path,
                                                       const CocoDataset& gt,
                                                       bool ignore_unknown_categories) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseCocoResults(*text, path, gt, ignore_unknown_categories);
}

json DetectionsToJson(const std::vector<Detection>& detections) {
  json out = json::array();
  for (const Detection& d : detections) {
    json e = {{"image_id", d.image_id}, {"category_id", d.category_id}, {"score", d.score}};
    if (d.bbox) e["bbox"] = {d.bbox->x, d.bbox->y, d.bbox->w, d.bbox->h};
    if (d.mask) {
      e["segmentation"] = {{"size", {d.mask->height, d.mask->width}},
                           {"counts", RleToCompressedString(*d.mask)}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

json CocoEvalResultToJson(const CocoEvalResult& r) {
  json stats = json::object();
  json stats_list = json::array();
  for (size_t j = 0; j < r.stats.size(); ++j) {
    stats[kStatNames[j]] = r.stats[j];
    stats_list.push_back(r.stats[j]);
  }
  json per_category = json::object();
  for (const auto& [id, ap] : r.per_category_ap) per_category[std::to_string(id)] = ap;
  json area_rng = json::array();
  for (const auto& a : r.params.area_rng) area_rng.push_back({a[0], a[1]});
  return {{"iou_type", IouTypeName(r.iou_type)},
          {"stats", stats},
          {"stats_order", json(std::vector<std::string>(kStatNames.begin(), kStatNames.end()))},
          {"stats_list", stats_list},
          {"per_category_ap", per_category},
          {"params",
           {{"iouThrs", r.params.iou_thrs},
            {"recThrs", r.params.rec_thrs},
            {"maxDets", r.params.max_dets},
            {"areaRng", area_rng},
            {"areaRngLbl", r.params.area_rng_lbl},
            {"useCats", r.params.use_cats ? 1 : 0}}}};
}

}  // namespace mrcnn::eval
