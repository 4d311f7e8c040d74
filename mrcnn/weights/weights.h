// Weight files: named tensors on disk, and loading them into a module by parameter name.
//
// A weight file is a zip archive written by torch.save of a plain Python dict {name: tensor} (or by
// WriteTensorFile / SaveWeights here); LibTorch reads it with torch::pickle_load. Python state dicts
// (.pth, an OrderedDict) cannot be read by LibTorch, so torchvision checkpoints go through
// mrcnn/weights/convert_torchvision.py first (see README, "Weights").
//
//   absl::StatusOr<LoadReport> r = LoadWeights(*model, "maskrcnn_coco.pt",
//                                              /*exclude=*/{"roi_heads.box_predictor"});
//   if (!r.ok()) ...;            // unreadable file
//   std::cout << r->Summary();   // loaded / shape mismatch / missing / unused counts and names
//
// Names are the module's own: named_parameters() and named_buffers(), dot-joined
// ("backbone.body.layer1.0.conv1.weight"), which match torchvision's state dict keys.
#ifndef MRCNN_WEIGHTS_WEIGHTS_H_
#define MRCNN_WEIGHTS_WEIGHTS_H_

#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mrcnn {

using TensorMap = std::map<std::string, torch::Tensor>;

// Reads a file written by torch.save({name: tensor}) or WriteTensorFile. Errors name the file and say
// what was found instead (e.g. an OrderedDict state dict that needs the converter).
absl::StatusOr<TensorMap> ReadTensorFile(const std::string& path);

// Writes tensors so that ReadTensorFile and Python's torch.load both read them back.
absl::Status WriteTensorFile(const std::string& path, const TensorMap& tensors);

// What happened to each name when loading a TensorMap into a module.
struct LoadReport {
  std::vector<std::string> loaded;          // copied into the module
  std::vector<std::string> shape_mismatch;  // "name: file [a, b] vs module [c, d]"; left as they were
  std::vector<std::string> excluded;        // in the file but skipped because of the exclude list
  std::vector<std::string> missing;         // in the module, not in the file (and not excluded);
                                            // BatchNorm's num_batches_tracked is never missing
  std::vector<std::string> unused;          // in the file, not in the module

  // True when every module tensor that was not excluded got a value.
  bool complete() const { return shape_mismatch.empty() && missing.empty(); }
  // Counts, then the names of every mismatched, missing and unused entry.
  std::string Summary() const;
};

// True when `name` is excluded: equal to an entry, or under it ("roi_heads.box_predictor" excludes
// "roi_heads.box_predictor.cls_score.weight"; "rpn" does not exclude "rpn_extra.w").
bool IsExcluded(const std::string& name, const std::vector<std::string>& exclude);

// Copies tensors into the module's parameters and buffers of the same name and shape (converting the
// dtype); never changes requires_grad. Shape mismatches are reported, not fatal, so that heads with a
// different NUM_CLASSES can start from COCO weights with or without an exclude list.
LoadReport LoadStateDict(torch::nn::Module& module, const TensorMap& tensors,
                         const std::vector<std::string>& exclude);

// ReadTensorFile + LoadStateDict.
absl::StatusOr<LoadReport> LoadWeights(torch::nn::Module& module, const std::string& path,
                                       const std::vector<std::string>& exclude);

// The module's parameters and buffers by name (detached, on the CPU).
TensorMap StateDict(const torch::nn::Module& module);

// Writes StateDict(module) with WriteTensorFile.
absl::Status SaveWeights(const torch::nn::Module& module, const std::string& path);

}  // namespace mrcnn

#endif  // MRCNN_WEIGHTS_WEIGHTS_H_
