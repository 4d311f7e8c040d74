// The dataset flags that //mrcnn:train and //mrcnn:evaluate share, so that an evaluation names its
// data exactly as the training run did:
//   --format, --dataset_dir, --val_dir, --val_fraction, --class_map, --shapes_val, --shapes_size.
//
//   DataOptions d = DataOptionsFromFlags(*config);  // then d.shapes_train = ...
//   absl::StatusOr<TrainValData> data = LoadTrainVal(d);
#ifndef MRCNN_TRAIN_DATA_FLAGS_H_
#define MRCNN_TRAIN_DATA_FLAGS_H_

#include <cstdint>

#include "gflags/gflags.h"
#include "mrcnn/train/data.h"

DECLARE_string(format);
DECLARE_string(dataset_dir);
DECLARE_string(val_dir);
DECLARE_double(val_fraction);
DECLARE_string(split_group_by);
DECLARE_string(class_map);
DECLARE_int32(shapes_val);
DECLARE_int32(shapes_size);

namespace mrcnn {

// The flags above as DataOptions, split with the config's SEED and read with its IMAGE_MAX_PIXELS;
// shapes_train is the caller's.
DataOptions DataOptionsFromFlags(const Config& config);

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_DATA_FLAGS_H_
