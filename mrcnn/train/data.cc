#include "mrcnn/train/data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "datasets/class_map.h"
#include "datasets/coco.h"
#include "datasets/labelme.h"
#include "datasets/problems.h"
#include "datasets/shapes.h"
#include "datasets/split.h"
#include "datasets/tutorial.h"

namespace mrcnn {
namespace {

absl::StatusOr<datasets::ClassMap> ClassMapOf(const std::string& text) {
  if (text.empty()) return datasets::ClassMap();
  std::error_code ec;
  if (std::filesystem::is_regular_file(text, ec)) return datasets::LoadClassMapFile(text);
  return datasets::ParseClassMapFlag(text);
}

absl::StatusOr<datasets::Dataset> LoadFolder(const DataOptions& o, const std::string& dir,
                                             const datasets::ClassMap& map, datasets::ProblemLog* log) {
  std::error_code ec;
  if (dir.empty()) return absl::InvalidArgumentError(absl::StrCat("--format=", o.format, " needs --dataset_dir"));
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": dataset folder does not exist"));
  }
  if (o.format == "tutorial") {
    datasets::TutorialOptions t;
    t.root = dir;
    t.class_map = map;
    t.image_max_pixels = o.image_max_pixels;
    return datasets::LoadTutorial(t, log);
  }
  if (o.format == "labelme") {
    datasets::LabelmeOptions l;
    l.dir = dir;
    l.class_map = map;
    l.image_max_pixels = o.image_max_pixels;
    return datasets::LoadLabelme(l, log);
  }
  if (o.format == "coco") {
    absl::StatusOr<datasets::CocoOptions> c = datasets::FindCocoFiles(dir);
    if (!c.ok()) return c.status();
    c->image_max_pixels = o.image_max_pixels;
    return datasets::LoadCoco(*c, log);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--format=", o.format, ": expected shapes, tutorial, coco or labelme"));
}

// FNV-1a over what identifies the data; enough to tell datasets apart in the experiment log.
std::string ContentHash(const datasets::Dataset& a, const datasets::Dataset& b) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&](const std::string& s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const datasets::Dataset* ds : {&a, &b}) {
    add("|");
    for (const auto& c : ds->classes()) add(c.name);
    for (const auto& im : ds->images()) {
      add(im.id);
      add(absl::StrCat(im.width, "x", im.height, ":", im.annotations.size()));
    }
  }
  return absl::StrFormat("%016x", h);
}

}  // namespace

absl::Status CheckDataOptions(const DataOptions& o) {
  if (o.format != "shapes" && o.format != "tutorial" && o.format != "coco" && o.format != "labelme") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format=", o.format, ": expected shapes, tutorial, coco or labelme"));
  }
  if (o.format != "shapes") {
    if (o.dir.empty()) return absl::InvalidArgumentError(absl::StrCat("--format=", o.format, " needs --dataset_dir"));
    std::error_code ec;
    for (const auto& [flag, dir] : {std::pair<const char*, const std::string*>{"--dataset_dir", &o.dir},
                                    {"--val_dir", &o.val_dir}}) {
      if (!dir->empty() && !std::filesystem::is_directory(*dir, ec)) {
        return absl::NotFoundError(absl::StrCat(flag, "=", *dir, ": folder not found"));
      }
    }
  }
  if (!(o.val_fraction >= 0 && o.val_fraction < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--val_fraction must be in [0, 1), got ", o.val_fraction));
  }
  absl::StatusOr<datasets::SplitGroupBy> group = datasets::ParseSplitGroupBy(o.split_group_by);
  if (!group.ok()) return absl::InvalidArgumentError(absl::StrCat("--split_group_by: ", group.status().message()));
  if (o.shapes_train < 0 || o.shapes_val < 0 || o.shapes_size < 1) {
    return absl::InvalidArgumentError("--shapes_train and --shapes_val must be >= 0 and --shapes_size >= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainValData> LoadTrainVal(const DataOptions& o) {
  absl::Status checked = CheckDataOptions(o);
  if (!checked.ok()) return checked;
  TrainValData d;
  if (o.format == "shapes") {
    d.train = datasets::MakeShapesDataset(
        {.count = o.shapes_train, .height = o.shapes_size, .width = o.shapes_size, .seed = o.shapes_seed, .split = "train"});
    d.val = datasets::MakeShapesDataset(
        {.count = o.shapes_val, .height = o.shapes_size, .width = o.shapes_size, .seed = o.shapes_seed, .split = "val"});
    d.name = "shapes";
    d.content_hash = ContentHash(d.train, d.val);
    return d;
  }
  absl::StatusOr<datasets::ClassMap> map = ClassMapOf(o.class_map);
  if (!map.ok()) return map.status();
  datasets::ProblemLog log(/*strict=*/false);
  absl::StatusOr<datasets::Dataset> all = LoadFolder(o, o.dir, *map, &log);
  if (!all.ok()) return all.status();
  if (all->num_images() == 0) return absl::InvalidArgumentError(absl::StrCat(o.dir, ": no usable image"));
  d.name = o.dir;
  if (!o.val_dir.empty()) {
    // The validation folder must number its classes as training does: reuse the discovered names.
    datasets::ClassMap same = *map;
    absl::StatusOr<datasets::Dataset> val = LoadFolder(o, o.val_dir, same, &log);
    if (!val.ok()) return val.status();
    if (val->class_names() != all->class_names()) {
      return absl::InvalidArgumentError(absl::StrCat(
          o.val_dir, ": its classes differ from ", o.dir, "'s; pass the same --class_map for both"));
    }
    d.train = std::move(*all);
    d.val = std::move(*val);
  } else {
    datasets::SplitOptions so;
    so.val_fraction = o.val_fraction;
    so.seed = o.split_seed;
    so.group_by = datasets::ParseSplitGroupBy(o.split_group_by).value();  // checked above
    absl::StatusOr<datasets::Split> split = datasets::MakeSplit(*all, so);
    if (!split.ok()) return split.status();
    d.train = all->Subset(split->train);
    d.val = all->Subset(split->val);
    d.split_note = SplitNote(o, split->val.size(), all->num_images());
  }
  if (log.num_errors() + log.num_warnings() > 0) d.problems = log.Report();
  d.content_hash = ContentHash(d.train, d.val);
  return d;
}

std::string SplitNote(const DataOptions& o, size_t val, size_t total) {
  if (total == 0) return "";
  const double got = static_cast<double>(val) / static_cast<double>(total);
  // One image either way is the rounding a ratio split cannot avoid.
  if (std::fabs(got - o.val_fraction) <= std::max(0.1, 1.0 / static_cast<double>(total))) return "";
  return absl::StrFormat(
      "split: --val_fraction=%g asked for about %d of %d images for validation, but %d (%.2f) went there "
      "because --split_group_by=%s keeps each group on one side; use --split_group_by=none, more "
      "groups, or --val_dir",
      o.val_fraction, static_cast<int>(std::lround(o.val_fraction * static_cast<double>(total))),
      static_cast<int>(total), static_cast<int>(val), got, o.split_group_by);
}

absl::Status CheckClasses(const datasets::Dataset& ds, const Config& config, const std::string& what) {
  if (ds.num_classes() != config.NUM_CLASSES) {
    return absl::InvalidArgumentError(absl::StrCat(
        "NUM_CLASSES: the config says ", config.NUM_CLASSES, " but the ", what, " has ", ds.num_classes(),
        " (background + ", ds.num_classes() - 1, " classes); add --set NUM_CLASSES=", ds.num_classes()));
  }
  return absl::OkStatus();
}

}  // namespace mrcnn
