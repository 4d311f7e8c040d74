// inspect: reads a dataset the way training would and prints what it holds and every problem found.
//
//   bazel run //datasets:inspect -- --dataset_dir=DIR --format=tutorial|labelme|coco|shapes
//       [--class_map=FILE or "40=sign,51=sign_back,..."] [--strict] [--render=OUT_DIR] [--image_max_pixels=N]
//       [--write_split=DIR --val_fraction=0.2 --split_seed=0 --split_group_by=none|folder|near_duplicate]
//
// Prints images and instances per class, image sizes, and the problem report; --render writes one PNG
// per image with the masks, boxes and class names drawn over it; --write_split writes DIR/train.txt and
// DIR/val.txt (image ids, one a line) for the loaded images. Images over --image_max_pixels (from their
// headers; training's IMAGE_MAX_PIXELS) are problems like unreadable ones.
#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "datasets/class_map.h"
#include "datasets/coco.h"
#include "datasets/image_io.h"
#include "datasets/labelme.h"
#include "datasets/loader_util.h"
#include "datasets/render.h"
#include "datasets/shapes.h"
#include "datasets/split.h"
#include "datasets/tutorial.h"
#include "gflags/gflags.h"
#include "mrcnn/config/help.h"
#include "opencv2/imgcodecs.hpp"
#include "mrcnn/config/untrusted.h"

DEFINE_string(dataset_dir, "", "dataset folder (COCO: folder or annotation file)");
DEFINE_string(format, "tutorial", "tutorial | labelme | coco | shapes");
DEFINE_string(class_map, "", "class map file, or code=name pairs separated by commas; empty: discover");
DEFINE_bool(strict, false, "fail on the first problem instead of skipping and reporting");
DEFINE_string(render, "", "folder to write PNGs with masks, boxes and class names drawn");
DEFINE_int32(shapes_count, 8, "shapes format: number of images");
DEFINE_int32(shapes_size, 128, "shapes format: image side");
DEFINE_int32(seed, 0, "shapes format: seed");
DEFINE_string(write_split, "", "folder to write train.txt and val.txt to");
DEFINE_double(val_fraction, 0.2, "share of images in val.txt");
DEFINE_int32(split_seed, 0, "seed of the split");
DEFINE_string(split_group_by, "none", "keep groups on one side: none | folder | near_duplicate");
DEFINE_int64(image_max_pixels, mrcnn::datasets::kDefaultImageMaxPixels,
             "images declaring more pixels in their headers are reported and skipped (the training "
             "config's IMAGE_MAX_PIXELS)");

namespace mrcnn::datasets {
namespace {

int Run() {
  if (FLAGS_image_max_pixels < 1) {
    std::cerr << "inspect: --image_max_pixels must be >= 1, got " << FLAGS_image_max_pixels << "\n";
    return 2;
  }
  ProblemLog log(FLAGS_strict);
  ClassMap map;
  if (!FLAGS_class_map.empty()) {
    absl::StatusOr<ClassMap> m = internal::IsRegularFile(FLAGS_class_map) ? LoadClassMapFile(FLAGS_class_map)
                                                                           : ParseClassMapFlag(FLAGS_class_map);
    if (!m.ok()) {
      std::cerr << "inspect: " << m.status().message() << "\n";
      return 2;
    }
    map = *m;
  }
  absl::StatusOr<Dataset> ds;
  if (FLAGS_format == "tutorial") {
    TutorialOptions o;
    o.root = FLAGS_dataset_dir;
    o.class_map = map;
    o.image_max_pixels = FLAGS_image_max_pixels;
    ds = LoadTutorial(o, &log);
  } else if (FLAGS_format == "labelme") {
    LabelmeOptions o;
    o.dir = FLAGS_dataset_dir;
    o.class_map = map;
    o.image_max_pixels = FLAGS_image_max_pixels;
    ds = LoadLabelme(o, &log);
  } else if (FLAGS_format == "coco") {
    absl::StatusOr<CocoOptions> o = FindCocoFiles(FLAGS_dataset_dir);
    if (o.ok()) o->image_max_pixels = FLAGS_image_max_pixels;
    ds = o.ok() ? LoadCoco(*o, &log) : absl::StatusOr<Dataset>(o.status());
  } else if (FLAGS_format == "shapes") {
    ds = MakeShapesDataset({FLAGS_shapes_count, FLAGS_shapes_size, FLAGS_shapes_size, static_cast<uint64_t>(FLAGS_seed)});
  } else {
    std::cerr << "inspect: --format must be tutorial, labelme, coco or shapes, got '" << FLAGS_format << "'\n";
    return 2;
  }
  if (!ds.ok()) {
    if (!log.problems().empty()) std::cout << log.Report();
    std::cerr << "inspect: " << ds.status().message() << "\n";
    return 1;
  }
  std::vector<int> images_per_class(ds->num_classes()), instances_per_class(ds->num_classes());
  std::map<std::pair<int, int>, int> sizes;
  int instances = 0, crowd = 0;
  if (!FLAGS_render.empty()) std::filesystem::create_directories(FLAGS_render);
  int rendered = 0;
  for (int i = 0; i < ds->num_images(); ++i) {
    const ImageInfo& info = ds->image_info(i);
    ++sizes[{info.width, info.height}];
    std::vector<bool> seen(ds->num_classes());
    for (const Annotation& a : info.annotations) {
      const int id = ds->MapSourceClassId(info.source, a.class_id);
      ++instances_per_class[id];
      ++instances;
      crowd += a.crowd;
      if (!seen[id]) ++images_per_class[id];
      seen[id] = true;
    }
    if (!FLAGS_render.empty()) {
      absl::StatusOr<cv::Mat> rgb = ds->LoadImage(i);
      absl::StatusOr<InstanceMasks> masks = rgb.ok() ? ds->LoadMask(i) : absl::StatusOr<InstanceMasks>(rgb.status());
      if (!masks.ok()) {
        std::cout << "render failed: " << masks.status().message() << "\n";
        continue;
      }
      const std::string name = absl::StrReplaceAll(info.id, {{"/", "__"}}) + ".png";
      try {
        if (cv::imwrite((std::filesystem::path(FLAGS_render) / name).string(),
                        RenderInstances(*rgb, *masks, ds->class_names()))) {
          ++rendered;
        }
      } catch (const cv::Exception& e) {
        std::cout << "render failed: " << (info.path.empty() ? info.id : info.path) << ": " << e.err << "\n";
      }
    }
  }
  std::cout << "images: " << ds->num_images() << "\ninstances: " << instances << " (crowd: " << crowd << ")\n";
  std::cout << "per class (id name: images, instances):\n";
  for (int c = 1; c < ds->num_classes(); ++c) {
    std::cout << "  " << c << " " << ds->classes()[c].name << ": " << images_per_class[c] << " images, "
              << instances_per_class[c] << " instances\n";
  }
  std::cout << "image sizes (width x height: images):\n";
  for (const auto& [wh, n] : sizes) std::cout << "  " << wh.first << "x" << wh.second << ": " << n << "\n";
  std::cout << "problems:\n" << log.Report();
  if (!FLAGS_render.empty()) std::cout << "rendered " << rendered << " images to " << FLAGS_render << "\n";
  if (!FLAGS_write_split.empty()) {
    absl::StatusOr<SplitGroupBy> group_by = ParseSplitGroupBy(FLAGS_split_group_by);
    if (!group_by.ok()) {
      std::cerr << "inspect: " << group_by.status().message() << "\n";
      return 2;
    }
    SplitOptions opt;
    opt.val_fraction = FLAGS_val_fraction;
    opt.seed = static_cast<uint64_t>(FLAGS_split_seed);
    opt.group_by = *group_by;
    absl::StatusOr<Split> split = MakeSplit(*ds, opt);
    std::filesystem::create_directories(FLAGS_write_split);
    const std::string train = (std::filesystem::path(FLAGS_write_split) / "train.txt").string();
    const std::string val = (std::filesystem::path(FLAGS_write_split) / "val.txt").string();
    absl::Status s = split.ok() ? WriteSplit(*split, *ds, train, val) : split.status();
    if (!s.ok()) {
      std::cerr << "inspect: " << s.message() << "\n";
      return 1;
    }
    std::cout << "split: " << split->train.size() << " images in " << train << ", " << split->val.size()
              << " in " << val << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace mrcnn::datasets

namespace {
int Main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "Loads a dataset as training would and reports its classes, images, instances and problems.\n"
      "Usage: inspect --dataset_dir=DIR --format=tutorial|labelme|coco|shapes [--render=OUT_DIR]");
  mrcnn::ParseFlags(&argc, &argv);
  if (FLAGS_dataset_dir.empty() && FLAGS_format != "shapes") {
    std::cerr << "inspect: --dataset_dir is required\n";
    return 2;
  }
  return mrcnn::datasets::Run();
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("inspect", Main, argc, argv); }
