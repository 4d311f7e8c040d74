// A preset shrunk for model tests that run many forward and backward passes: full-image masks, four
// classes, every detection kept (so that detect returns boxes even from random weights), and for the
// torchvision preset (R50-FPN, frozen batch norm) 160 px inputs with fewer training ROIs.
#ifndef TESTS_MRCNN_MODEL_SMALL_CONFIG_H_
#define TESTS_MRCNN_MODEL_SMALL_CONFIG_H_

#include <string>

#include "mrcnn/config/config.h"

namespace mrcnn {

inline Config SmallPresetConfig(const std::string& preset, Precision precision) {
  Config c = Config::Preset(preset).value();
  c.USE_MINI_MASK = false;
  c.NUM_CLASSES = 4;
  c.DETECTION_MIN_CONFIDENCE = 0.0;
  if (preset == "torchvision") {
    c.IMAGE_MIN_DIM = 160;
    c.IMAGE_MAX_DIM = 160;
    c.POST_NMS_ROIS_TRAINING = 256;
    c.TRAIN_ROIS_PER_IMAGE = 64;
  }
  c.PRECISION = precision;
  return c;
}

}  // namespace mrcnn

#endif  // TESTS_MRCNN_MODEL_SMALL_CONFIG_H_
