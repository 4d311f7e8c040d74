// The trainer's optimizer, with its state kept by parameter name (layer stages freeze parameters by
// name, checkpoints store the state by name).
//
// Each step first clips the gradients to one global L2 norm of GRADIENT_CLIP_NORM (0: off; as
// torch.nn.utils.clip_grad_norm_), then updates by OPTIMIZER:
//   "sgd":   torch.optim.SGD with LEARNING_MOMENTUM and WEIGHT_DECAY (decay added to the gradient).
//   "adamw": torch.optim.AdamW with betas (0.9, 0.999), eps 1e-8 and WEIGHT_DECAY decoupled
//            (p *= 1 - lr * WEIGHT_DECAY); LEARNING_MOMENTUM is not used.
//
//   Optimizer opt(config);
//   opt.Step({{"backbone.body.conv1.weight", w}, ...}, lr);  // parameters with gradients
//   TensorMap state = opt.State();                          // "optimizer.<slot>.<parameter>"
#ifndef MRCNN_TRAIN_OPTIMIZER_H_
#define MRCNN_TRAIN_OPTIMIZER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "mrcnn/config/config.h"
#include "mrcnn/weights/weights.h"

namespace mrcnn {

class Optimizer {
 public:
  explicit Optimizer(const Config& config);

  // Clips and updates the parameters that have a gradient, in place.
  void Step(const std::vector<std::pair<std::string, torch::Tensor>>& params, double lr);

  // Drops a parameter's state (it was frozen).
  void Forget(const std::string& name) { state_.erase(name); }

  // The state as a checkpoint stores it: "optimizer.momentum.<p>" (sgd); "optimizer.exp_avg.<p>",
  // "optimizer.exp_avg_sq.<p>" and "optimizer.step.<p>" (adamw, the step an int64 scalar).
  TensorMap State() const;

  // Replaces the state with `state` (State()'s keys, other keys ignored). Every entry must name a
  // parameter of `params` with its shape and belong to this OPTIMIZER; errors start with `source`.
  absl::Status Restore(const TensorMap& state, const std::map<std::string, torch::Tensor>& params,
                       const std::string& source);

  static bool IsStateKey(const std::string& key);

 private:
  struct Slots {
    torch::Tensor momentum, exp_avg, exp_avg_sq;
    int64_t steps = 0;
  };

  OptimizerKind kind_;
  double momentum_, weight_decay_, clip_norm_;
  std::map<std::string, Slots> state_;
};

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_OPTIMIZER_H_
