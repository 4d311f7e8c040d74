#include "datasets/tutorial.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "datasets/image_io.h"
#include "datasets/loader_util.h"

namespace mrcnn::datasets {

namespace fs = std::filesystem;
using internal::Extension;
using internal::RelativeStem;

absl::StatusOr<std::vector<TutorialInstance>> ParseTutorialLabel(const std::string& text,
                                                                 const std::string& file,
                                                                 ProblemLog* log) {
  absl::StatusOr<nlohmann::json> j = internal::ParseJsonLenient(text, file);
  if (!j.ok()) return j.status();
  if (!j->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": malformed label file: expected a JSON list of instances"));
  }
  std::vector<TutorialInstance> out;
  for (int i = 0; i < static_cast<int>(j->size()); ++i) {
    const nlohmann::json& e = (*j)[i];
    std::string why;
    TutorialInstance inst;
    if (!e.is_object()) {
      why = "instance is not a JSON object";
    } else if (!e.contains("category") || !(e["category"].is_string() || e["category"].is_number_integer())) {
      why = "missing or invalid \"category\"";
    } else if (!e.contains("points")) {
      why = "missing \"points\"";
    } else {
      inst.category = e["category"].is_string() ? e["category"].get<std::string>() : e["category"].dump();
      inst.type = e.contains("type") && e["type"].is_string() ? e["type"].get<std::string>() : "polygon";
      if (inst.type != "polygon") {
        why = absl::StrCat("unsupported type \"", inst.type, "\" (only polygon)");
      } else {
        why = internal::ReadPointPairs(e["points"], &inst.points);
      }
    }
    if (!why.empty()) {
      absl::Status s = log->Error(file, i, why);
      if (!s.ok()) return s;
      continue;
    }
    inst.index = i;
    out.push_back(std::move(inst));
  }
  return out;
}

absl::StatusOr<Dataset> LoadTutorial(const TutorialOptions& options, ProblemLog* log) {
  const std::string image_root = (fs::path(options.root) / options.images_dir).string();
  const std::string label_root = (fs::path(options.root) / options.labels_dir).string();
  for (const std::string& d : {image_root, label_root}) {
    if (!internal::IsDirectory(d)) {
      return absl::NotFoundError(absl::StrCat(d, ": folder not found (the tutorial layout has ",
                                              options.images_dir, "/ and ", options.labels_dir, "/)"));
    }
  }
  // Relative stem -> files, for images and labels.
  std::map<std::string, std::vector<std::string>> images, labels;
  std::map<std::string, std::vector<std::string>> label_by_name;  // bare stem -> label relative stems
  for (const std::string& p : internal::ListFiles(image_root)) {
    if (IsImageExtension(p)) images[RelativeStem(p, image_root)].push_back(p);
  }
  for (const std::string& p : internal::ListFiles(label_root)) {
    const std::string ext = Extension(p);
    if (ext == "txt" || ext == "json") labels[RelativeStem(p, label_root)].push_back(p);
  }
  for (const auto& [stem, paths] : labels) label_by_name[fs::path(stem).filename().string()].push_back(stem);

  // A label found by its bare name (a flat Segmentations/ for nested JPEGImages/) belongs to one image
  // only: images in two sub-folders with the same name cannot tell which label is theirs.
  const auto by_name = [&](const std::string& stem) -> std::string {
    if (labels.count(stem)) return "";
    const auto it = label_by_name.find(fs::path(stem).filename().string());
    if (it != label_by_name.end() && it->second.size() == 1 && !images.count(it->second[0])) {
      return it->second[0];
    }
    return "";
  };
  std::map<std::string, std::vector<std::string>> claimants;  // label stem -> images matching it by name
  for (const auto& [stem, paths] : images) {
    const std::string l = by_name(stem);
    if (!l.empty()) claimants[l].push_back(paths[0]);
  }

  std::set<std::string> used_labels;
  struct Pending {
    std::string stem, image, label;
  };
  std::vector<Pending> pending;
  for (const auto& [stem, paths] : images) {
    if (paths.size() > 1) {
      for (const std::string& p : paths) {
        absl::Status s = log->Error(p, -1, absl::StrCat("duplicate stem: ", paths.size(),
                                                        " images named ", stem, ".* (skipped)"));
        if (!s.ok()) return s;
      }
      used_labels.insert(stem);
      continue;
    }
    std::string label_stem = stem;
    if (const std::string l = by_name(stem); !l.empty()) {
      label_stem = l;
      const std::vector<std::string>& rivals = claimants[l];
      if (rivals.size() > 1) {
        used_labels.insert(l);
        absl::Status s = log->Error(
            paths[0], -1,
            absl::StrCat("ambiguous label: ", labels[l][0], " matches ", rivals.size(), " images by name (",
                         absl::StrJoin(rivals, ", "), "); put each label in the image's sub-folder under ",
                         options.labels_dir, "/ (skipped)"));
        if (!s.ok()) return s;
        continue;
      }
    }
    const auto lit = labels.find(label_stem);
    if (lit == labels.end()) {
      absl::Status s = log->Error(paths[0], -1, absl::StrCat("image has no label file (looked for ",
                                                             (fs::path(label_root) / stem).string(),
                                                             ".txt or .json)"));
      if (!s.ok()) return s;
      continue;
    }
    used_labels.insert(label_stem);
    if (lit->second.size() > 1) {
      absl::Status s = log->Error(lit->second[1], -1, absl::StrCat("duplicate stem: label files ",
                                                                   lit->second[0], " and ", lit->second[1],
                                                                   " for one image (skipped)"));
      if (!s.ok()) return s;
      continue;
    }
    pending.push_back({stem, paths[0], lit->second[0]});
  }
  for (const auto& [stem, paths] : labels) {
    if (used_labels.count(stem)) continue;
    for (const std::string& p : paths) {
      absl::Status s = log->Error(p, -1, absl::StrCat("label file has no image (looked for ",
                                                      (fs::path(image_root) / stem).string(), ".jpg/.png/...)"));
      if (!s.ok()) return s;
    }
  }

  // Parse every label file first: discovering classes needs all categories.
  struct Parsed {
    Pending files;
    std::vector<TutorialInstance> instances;
  };
  std::vector<Parsed> parsed;
  std::set<std::string> categories;
  for (const Pending& p : pending) {
    absl::StatusOr<std::string> text = ReadFileBytes(p.label);
    if (!text.ok()) {
      absl::Status s = log->Error(p.label, -1, internal::Reason(text.status(), p.label));
      if (!s.ok()) return s;
      continue;
    }
    absl::StatusOr<std::vector<TutorialInstance>> inst = ParseTutorialLabel(*text, p.label, log);
    if (!inst.ok()) {
      if (log->strict()) return inst.status();
      absl::Status s = log->Error(p.label, -1, internal::Reason(inst.status(), p.label));
      if (!s.ok()) return s;
      continue;
    }
    Parsed out{p, *std::move(inst)};
    for (const TutorialInstance& t : out.instances) categories.insert(t.category);
    parsed.push_back(std::move(out));
  }

  Dataset ds;
  ds.set_image_max_pixels(options.image_max_pixels);
  absl::StatusOr<ClassMap> mapped = internal::AddMappedClasses("tutorial", options.class_map, categories, &ds);
  if (!mapped.ok()) return mapped.status();
  const ClassMap& map = *mapped;
  for (Parsed& p : parsed) {
    absl::StatusOr<ImageHeader> header = ReadImageHeader(p.files.image, options.image_max_pixels);
    if (!header.ok()) {
      absl::Status s = log->Error(p.files.image, -1, internal::Reason(header.status(), p.files.image));
      if (!s.ok()) return s;
      continue;
    }
    ImageInfo info;
    info.source = "tutorial";
    info.id = p.files.stem;
    info.path = p.files.image;
    info.label_path = p.files.label;
    info.group = fs::path(p.files.stem).parent_path().generic_string();
    info.width = header->width;
    info.height = header->height;
    for (size_t k = 0; k < p.instances.size(); ++k) {
      const TutorialInstance& t = p.instances[k];
      Annotation a;
      a.category = t.category;
      a.source_index = t.index;
      a.class_id = map.IdOf(t.category);
      if (a.class_id < 0) {
        absl::Status s = log->Error(p.files.label, a.source_index,
                                    absl::StrCat("category \"", t.category, "\" is not in the class map"));
        if (!s.ok()) return s;
        continue;
      }
      a.polygons.push_back(t.points);
      absl::Status added = internal::AddCheckedAnnotation(std::move(a), p.files.label, &info, log);
      if (!added.ok()) return added;
    }
    ds.AddImage(std::move(info));
  }
  absl::Status s = ds.Prepare();
  if (!s.ok()) return s;
  return ds;
}

}  // namespace mrcnn::datasets
