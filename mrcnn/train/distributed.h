// Data-parallel training over torch's c10d collectives (Gloo on the CPU), as PyTorch's
// DistributedDataParallel does it, for our C++ model (LibTorch has no DDP module):
//
//   RankOptions o = ...;                         // --ranks, RankOptionsFromEnvironment (torchrun, srun)
//   absl::StatusOr<std::shared_ptr<DataParallelGroup>> g = DataParallelGroup::Connect(o, fingerprint);
//   (*g)->BroadcastFromRoot(tensors);            // rank 0's initial weights everywhere
//   auto avg = GradientAverager::Create(*g, trainable_params);
//   (*avg)->StartStep(); loss.backward();        // hooks start bucket allreduces during backward
//   absl::Status s = (*avg)->Finish();           // every rank's .grad is now the mean over ranks
//
// Connect is the rendezvous: rank 0 hosts c10d's TCPStore at MASTER_ADDR:MASTER_PORT, every rank
// publishes a fingerprint (code and config) and waits for all others, then c10d's ProcessGroupGloo
// connects the ranks. Every wait has a timeout; errors name the address, the ranks missing or the
// ranks that differ. A collective fails when a peer dies (Gloo sees the connection close) or when it
// does not complete within the timeout.
#ifndef MRCNN_TRAIN_DISTRIBUTED_H_
#define MRCNN_TRAIN_DISTRIBUTED_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mrcnn {

// Where this process stands in a data-parallel job.
struct RankOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";  // host of rank 0 (the store's server)
  int master_port = 29500;
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};  // every rendezvous and collective
  std::string source = "--ranks";  // how the job was described, for messages
  // "gloo" (CPU tensors; c10d's Gloo backend) or "nccl" (CUDA tensors; needs a binary built with
  // --config=cuda against a CUDA LibTorch with NCCL's header found, USE_C10D_NCCL). With NCCL every
  // rank uses CUDA device `cuda_device`; CPU tensors given to the collectives travel through it.
  std::string backend = "gloo";
  int cuda_device = 0;
};

// Whether this binary can use NCCL (built against a CUDA LibTorch with USE_C10D_NCCL).
bool HaveNccl();

// Environment lookup (nullopt: unset); tests pass a map, binaries std::getenv.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup ProcessEnvironment();

// A rank of a job started by torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT;
// all four needed once RANK or WORLD_SIZE is set) or by srun (SLURM_PROCID, SLURM_NTASKS, the first host
// of SLURM_JOB_NODELIST as MASTER_ADDR unless that is set; MASTER_PORT or 29500). nullopt when the
// environment describes no job of more than one rank. Errors name the variable and the reason.
absl::StatusOr<std::optional<RankOptions>> RankOptionsFromEnvironment(const EnvLookup& env);

// The first host of a Slurm node list: "gpu[07-09,12],cpu3" -> "gpu07", "node-a,node-b" -> "node-a".
absl::StatusOr<std::string> FirstSlurmHost(absl::string_view nodelist);

// The connected ranks of one job (c10d TCPStore + ProcessGroupGloo or ProcessGroupNCCL).
class DataParallelGroup {
 public:
  // `fingerprint` is a JSON object describing what must be equal on every rank (the binary's hash, the
  // config, the trainer's flags); a rank whose fingerprint differs from rank 0's makes every rank
  // refuse to start, naming the ranks and the fields that differ.
  static absl::StatusOr<std::shared_ptr<DataParallelGroup>> Connect(const RankOptions& options,
                                                                    const std::string& fingerprint);
  ~DataParallelGroup();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  bool is_root() const { return options_.rank == 0; }
  const RankOptions& options() const { return options_; }

  // Rank 0's values into `tensors` on every rank (in place; any dtypes, flattened per dtype).
  absl::Status BroadcastFromRoot(const std::vector<torch::Tensor>& tensors, absl::string_view what);
  // In place sum over ranks of a contiguous tensor (CPU; with NCCL also on the rank's CUDA device).
  absl::Status AllReduceSum(torch::Tensor tensor, absl::string_view what);
  // Starts an in-place sum; Wait returns when it is done (or its error, naming `what`).
  class Pending;
  absl::StatusOr<std::shared_ptr<Pending>> StartAllReduceSum(torch::Tensor tensor);
  absl::Status Wait(Pending& pending, absl::string_view what);
  // Every rank's `bytes` on rank 0 (in rank order; other ranks get an empty vector), through the store.
  // `key` must be new for every call.
  absl::StatusOr<std::vector<std::string>> GatherToRoot(const std::string& key, const std::string& bytes);

 private:
  struct Impl;
  DataParallelGroup(RankOptions options, std::unique_ptr<Impl> impl);
  RankOptions options_;
  std::unique_ptr<Impl> impl_;
};

// DistributedDataParallel's reducer for the parameters that require gradients: their gradients are
// copied, divided by the number of ranks, into flat buckets of at most `bucket_bytes` (the last
// parameters first, the order backward reaches them), and each bucket's allreduce starts as soon as its
// gradients are all there and the buckets before it have started, while backward goes on. Finish
// starts what is left, waits, and writes the mean over ranks into every parameter's .grad. A parameter
// that got no gradient on a rank counts as zero there; one that got none on any rank keeps no .grad
// (as in one process). Frozen parameters (requires_grad false) are never touched. The trainable
// parameters must share one floating type (float32 in training; the tests also average float64).
class GradientAverager {
 public:
  // As DDP: the first bucket (the last layers, whose gradients come first) holds at most
  // `first_bucket_bytes`, so that its allreduce starts early in backward; the others `bucket_bytes`.
  static absl::StatusOr<std::unique_ptr<GradientAverager>> Create(
      std::shared_ptr<DataParallelGroup> group, std::vector<std::pair<std::string, torch::Tensor>> params,
      int64_t bucket_bytes = 25 << 20, int64_t first_bucket_bytes = 1 << 20);
  ~GradientAverager();  // removes the hooks
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  // Before each backward.
  void StartStep();
  absl::Status Finish();

  int num_buckets() const { return static_cast<int>(buckets_.size()); }
  // Seconds Finish spent waiting for collectives and writing gradients, over all steps so far: the part
  // of the gradient exchange that backward did not hide.
  double exposed_seconds() const { return exposed_seconds_; }
  // Over all steps so far: buckets whose allreduce a hook started during backward, and all buckets.
  int64_t buckets_started_in_backward() const { return started_in_backward_; }
  int64_t buckets_started() const { return started_; }

 private:
  struct Bucket {
    std::vector<int> params;        // indices into params_
    std::vector<int64_t> offsets;   // of each parameter's gradient in `flat`
    int64_t numel = 0;              // gradients; then one "used" count per parameter
    torch::Tensor flat;
    int ready = 0;
    std::shared_ptr<DataParallelGroup::Pending> pending;
  };
  GradientAverager() = default;
  void OnGradient(int param, const torch::Tensor& grad);
  void LaunchReady();
  absl::Status Launch(Bucket& b);

  std::shared_ptr<DataParallelGroup> group_;
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  c10::ScalarType dtype_ = torch::kFloat32;  // of every trainable parameter, and of the buckets
  std::vector<int> bucket_of_, slot_of_;  // per parameter
  std::vector<char> got_;                 // per parameter, this step
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  int next_launch_ = 0;
  absl::Status hook_error_;
  double exposed_seconds_ = 0;
  int64_t started_in_backward_ = 0, started_ = 0;
};

}  // namespace mrcnn

#endif  // MRCNN_TRAIN_DISTRIBUTED_H_
