#include "mrcnn/train/data_flags.h"

#include <filesystem>
#include <string>

#include "mrcnn/config/paths.h"

DEFINE_string(format, "shapes", "dataset format: shapes (synthetic, no folder) | tutorial | coco | labelme");
DEFINE_string(dataset_dir, "", "dataset folder (formats tutorial, coco, labelme)");
DEFINE_string(val_dir, "", "validation folder in the same format; default: split --dataset_dir");
DEFINE_double(val_fraction, 0.2,
              "share of images held out for validation when there is no --val_dir (evaluate: use the "
              "training run's value)");
DEFINE_string(split_group_by, "none",
              "how the --val_fraction split groups images: none (by image), folder (each sub-folder on one "
              "side) or near_duplicate (similar frames on one side); evaluate: use the training run's value");
DEFINE_string(class_map, "", "tutorial/labelme: CODE=NAME,... or a file of them; default: discover");
DEFINE_int32(shapes_val, 100, "shapes: validation images");
DEFINE_int32(shapes_size, 128, "shapes: image height and width");

namespace mrcnn {

DataOptions DataOptionsFromFlags(const Config& config) {
  DataOptions d;
  d.format = FLAGS_format;
  d.dir = FLAGS_dataset_dir;
  d.val_dir = FLAGS_val_dir;
  // A class map file typed relative to where `bazel run` started; "40=sign,..." stays as it is.
  std::error_code ec;
  const std::string file = ResolveUserPath(FLAGS_class_map);
  d.class_map = std::filesystem::is_regular_file(file, ec) ? file : FLAGS_class_map;
  d.val_fraction = FLAGS_val_fraction;
  d.split_group_by = FLAGS_split_group_by;
  d.split_seed = static_cast<uint64_t>(config.SEED);
  d.image_max_pixels = config.IMAGE_MAX_PIXELS;
  d.shapes_val = FLAGS_shapes_val;
  d.shapes_size = FLAGS_shapes_size;
  return d;
}

}  // namespace mrcnn
