#include "mrcnn/train/distributed.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef USE_C10D_NCCL
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>
#include <torch/utils.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mrcnn {
namespace {

std::string Seconds(std::chrono::milliseconds t) { return absl::StrCat(t.count() / 1000.0, " s"); }

// The text of the exception in flight, without LibTorch's backtrace.
std::string CurrentError() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

absl::StatusOr<int> ParseInt(const EnvLookup& env, const std::string& name, int min, int max) {
  std::optional<std::string> v = env(name);
  int x = 0;
  if (!v || !absl::SimpleAtoi(*v, &x) || x < min || x > max) {
    return absl::InvalidArgumentError(absl::StrCat(name, "=", v.value_or("(unset)"), ": expected an integer in [",
                                                   min, ", ", max, "]"));
  }
  return x;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

absl::StatusOr<std::string> FirstSlurmHost(absl::string_view nodelist) {
  // The first item at bracket depth 0, e.g. "gpu[07-09,12]-ib" of "gpu[07-09,12]-ib,cpu3".
  std::string item;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']' && --depth < 0) break;
    if (c == ',' && depth == 0) break;
    item.push_back(c);
  }
  if (depth != 0 || item.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("SLURM_JOB_NODELIST=", nodelist,
                                                   ": not a Slurm node list (e.g. node[01-04],gpu7)"));
  }
  // Each bracket group becomes its first value: "[07-09,12]" -> "07".
  std::string host;
  for (size_t i = 0; i < item.size(); ++i) {
    if (item[i] != '[') {
      host.push_back(item[i]);
      continue;
    }
    const size_t close = item.find(']', i);
    const std::string group = item.substr(i + 1, close - i - 1);
    const std::string first = group.substr(0, group.find_first_of(",-"));
    if (first.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("SLURM_JOB_NODELIST=", nodelist, ": empty range in [", group, "]"));
    }
    host += first;
    i = close;
  }
  return host;
}

absl::StatusOr<std::optional<RankOptions>> RankOptionsFromEnvironment(const EnvLookup& env) {
  RankOptions o;
  if (env("RANK") || env("WORLD_SIZE")) {
    std::vector<std::string> missing;
    for (const char* k : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) {
      if (!env(k)) missing.push_back(k);
    }
    if (!missing.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the environment describes a data-parallel job (RANK or WORLD_SIZE is set) but lacks ",
          absl::StrJoin(missing, ", "), "; set all of RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, as torchrun does"));
    }
    absl::StatusOr<int> world = ParseInt(env, "WORLD_SIZE", 1, 1 << 20);
    if (!world.ok()) return world.status();
    absl::StatusOr<int> rank = ParseInt(env, "RANK", 0, *world - 1);
    if (!rank.ok()) return rank.status();
    absl::StatusOr<int> port = ParseInt(env, "MASTER_PORT", 1, 65535);
    if (!port.ok()) return port.status();
    o.rank = *rank;
    o.world_size = *world;
    o.master_addr = *env("MASTER_ADDR");
    o.master_port = *port;
    o.source = "the environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)";
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    absl::StatusOr<int> world = ParseInt(env, "SLURM_NTASKS", 1, 1 << 20);
    if (!world.ok()) return world.status();
    absl::StatusOr<int> rank = ParseInt(env, "SLURM_PROCID", 0, *world - 1);
    if (!rank.ok()) return rank.status();
    o.rank = *rank;
    o.world_size = *world;
    if (o.world_size == 1) return std::optional<RankOptions>();
    if (env("MASTER_ADDR")) {
      o.master_addr = *env("MASTER_ADDR");
    } else {
      std::optional<std::string> nodes = env("SLURM_JOB_NODELIST");
      if (!nodes) nodes = env("SLURM_NODELIST");
      if (!nodes) {
        return absl::InvalidArgumentError(
            "SLURM_PROCID and SLURM_NTASKS are set but neither SLURM_JOB_NODELIST nor MASTER_ADDR names rank 0's host");
      }
      absl::StatusOr<std::string> host = FirstSlurmHost(*nodes);
      if (!host.ok()) return host.status();
      o.master_addr = *host;
    }
    if (env("MASTER_PORT")) {
      absl::StatusOr<int> port = ParseInt(env, "MASTER_PORT", 1, 65535);
      if (!port.ok()) return port.status();
      o.master_port = *port;
    }
    o.source = "Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_JOB_NODELIST)";
  } else {
    return std::optional<RankOptions>();
  }
  if (o.world_size == 1) return std::optional<RankOptions>();
  return std::optional<RankOptions>(o);
}

// ---------------------------------------------------------------------------------------------------

// The common base of c10d's backends: ProcessGroup in LibTorch 1.x, Backend from 2.0 on.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

bool HaveNccl() {
#ifdef USE_C10D_NCCL
  return true;
#else
  return false;
#endif
}

class DataParallelGroup::Pending {
 public:
  explicit Pending(c10::intrusive_ptr<c10d::Work> work) : work(std::move(work)) {}
  c10::intrusive_ptr<c10d::Work> work;
  // NCCL with a CPU tensor: the device copy that was reduced, and where its result goes.
  torch::Tensor host, on_device;
};

struct DataParallelGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<CollectiveBackend> pg;
  // NCCL: the rank's CUDA device (collectives take tensors there); Gloo: the CPU.
  torch::Device device = torch::kCPU;
  // A tensor on the collectives' device (a copy when it is elsewhere).
  torch::Tensor OnDevice(const torch::Tensor& t) const { return t.device() == device ? t : t.to(device); }
};

DataParallelGroup::DataParallelGroup(RankOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

DataParallelGroup::~DataParallelGroup() = default;

namespace {

// The fields of two fingerprints (JSON objects) that differ, "name (rank 0: x, rank r: y)".
std::string FingerprintDifference(const std::string& root, const std::string& other, int rank) {
  const nlohmann::json a = nlohmann::json::parse(root, nullptr, false);
  const nlohmann::json b = nlohmann::json::parse(other, nullptr, false);
  if (!a.is_object() || !b.is_object()) return "the fingerprint is not comparable";
  std::vector<std::string> out;
  std::map<std::string, int> keys;
  for (auto it = a.begin(); it != a.end(); ++it) keys[it.key()] = 1;
  for (auto it = b.begin(); it != b.end(); ++it) keys[it.key()] = 1;
  for (const auto& [k, unused] : keys) {
    const nlohmann::json x = a.contains(k) ? a[k] : nlohmann::json(), y = b.contains(k) ? b[k] : nlohmann::json();
    if (x != y) {
      std::string xs = x.dump(), ys = y.dump();
      if (xs.size() > 200) xs = xs.substr(0, 200) + "...";
      if (ys.size() > 200) ys = ys.substr(0, 200) + "...";
      out.push_back(absl::StrCat(k, " (rank 0: ", xs, ", rank ", rank, ": ", ys, ")"));
    }
  }
  return absl::StrJoin(out, ", ");
}

}  // namespace

absl::StatusOr<std::shared_ptr<DataParallelGroup>> DataParallelGroup::Connect(const RankOptions& o,
                                                                              const std::string& fingerprint) {
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", o.rank, " of ", o.world_size, ": not a rank of the job"));
  }
  if (o.master_port < 1 || o.master_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT ", o.master_port, ": not a port"));
  }
  const std::string where = absl::StrCat(o.master_addr, ":", o.master_port);
  auto impl = std::make_unique<Impl>();
  // 1. The store: rank 0 serves it, the others connect (c10d retries until the timeout).
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = o.world_size;
    so.waitWorkers = false;  // waited for below, with the missing ranks named
    so.timeout = o.timeout;
    impl->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  } catch (...) {
    return absl::UnavailableError(absl::StrCat(
        "rendezvous at ", where, " (", o.source, "): rank ", o.rank, " of ", o.world_size,
        o.rank == 0 ? " could not serve the store there: " : " could not reach rank 0's store within " + Seconds(o.timeout) + ": ",
        CurrentError()));
  }
  // 2. Every rank publishes its fingerprint; all wait for all, naming the ranks that do not come.
  std::vector<std::string> keys;
  for (int r = 0; r < o.world_size; ++r) keys.push_back(absl::StrCat("mrcnn/fingerprint/", r));
  try {
    impl->store->set(keys[o.rank], std::vector<uint8_t>(fingerprint.begin(), fingerprint.end()));
  } catch (...) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", where, ": rank ", o.rank, " could not register: ",
                                               CurrentError()));
  }
  try {
    impl->store->wait(keys, o.timeout);
  } catch (...) {
    const std::string error = CurrentError();
    std::vector<std::string> missing;
    try {
      for (int r = 0; r < o.world_size; ++r) {
        if (!impl->store->check({keys[r]})) missing.push_back(absl::StrCat(r));
      }
    } catch (...) {
      return absl::DeadlineExceededError(absl::StrCat("rendezvous at ", where, " (", o.source, "): rank ", o.rank,
                                                      " lost the store (rank 0 gone?): ", error));
    }
    return absl::DeadlineExceededError(absl::StrCat(
        "rendezvous at ", where, " (", o.source, ") did not complete within ", Seconds(o.timeout), ": rank",
        missing.size() == 1 ? " " : "s ", absl::StrJoin(missing, ", "), " of ", o.world_size,
        " did not join (started? same MASTER_ADDR and MASTER_PORT?)"));
  }
  // 3. The same code and config everywhere, or no rank starts.
  std::vector<std::string> differ;
  try {
    std::vector<std::string> prints;
    for (const std::string& k : keys) {
      std::vector<uint8_t> v = impl->store->get(k);
      prints.emplace_back(v.begin(), v.end());
    }
    for (int r = 1; r < o.world_size; ++r) {
      if (prints[r] != prints[0]) {
        differ.push_back(absl::StrCat("rank ", r, ": ", FingerprintDifference(prints[0], prints[r], r)));
      }
    }
  } catch (...) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", where, ": reading the ranks' fingerprints: ",
                                               CurrentError()));
  }
  // Rank 0 hosts the store: it stays until every rank has read the fingerprints, so that a refusal
  // reaches every rank as the refusal, not as a connection reset.
  try {
    impl->store->set(absl::StrCat("fingerprint_read/", o.rank), std::vector<uint8_t>{1});
    if (o.rank == 0) {
      std::vector<std::string> read;
      for (int r = 0; r < o.world_size; ++r) read.push_back(absl::StrCat("fingerprint_read/", r));
      impl->store->wait(read, o.timeout);
    }
  } catch (...) {
    // A rank that died after reading: the collectives' own timeouts report it.
  }
  if (!differ.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to train: the ranks run different code or configs (every rank must run the same binary with "
        "the same config and trainer flags); ",
        absl::StrJoin(differ, "; ")));
  }
  // 4. The backend's connections between all ranks, through the store.
  if (o.backend == "nccl") {
#ifdef USE_C10D_NCCL
    try {
      impl->device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.cuda_device));
      const c10::cuda::CUDAGuard guard(impl->device);
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = o.timeout;
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>("nccl", impl->store);
      impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, o.rank, o.world_size, no);
    } catch (...) {
      return absl::UnavailableError(absl::StrCat("rendezvous at ", where, ": rank ", o.rank,
                                                 ": NCCL could not connect the ranks: ", CurrentError()));
    }
    return std::shared_ptr<DataParallelGroup>(new DataParallelGroup(o, std::move(impl)));
#else
    return absl::FailedPreconditionError(
        "data-parallel training on CUDA needs NCCL: build with --config=cuda and LIBTORCH_HOME set to a CUDA "
        "LibTorch, with nccl.h under NCCL_HOME, CUDA_HOME or /usr/include (README: data-parallel training)");
#endif
  }
  if (o.backend != "gloo") {
    return absl::InvalidArgumentError(absl::StrCat("backend '", o.backend, "': not gloo or nccl"));
  }
  try {
    auto go = c10d::ProcessGroupGloo::Options::create(o.timeout);
    const bool loopback = o.master_addr == "127.0.0.1" || o.master_addr == "localhost";
    go->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    go->threads = 1;  // collectives run one at a time per rank; the cores are the model's
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("gloo", impl->store);
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, o.rank, o.world_size, go);
  } catch (...) {
    return absl::UnavailableError(absl::StrCat("rendezvous at ", where, ": rank ", o.rank,
                                               ": Gloo could not connect the ranks: ", CurrentError()));
  }
  return std::shared_ptr<DataParallelGroup>(new DataParallelGroup(o, std::move(impl)));
}

absl::StatusOr<std::shared_ptr<DataParallelGroup::Pending>> DataParallelGroup::StartAllReduceSum(torch::Tensor t) {
  try {
    const torch::Tensor on_device = impl_->OnDevice(t);
    std::vector<torch::Tensor> v = {on_device};
    auto p = std::make_shared<Pending>(impl_->pg->allreduce(v));
    if (!on_device.is_same(t)) {
      p->host = t;
      p->on_device = on_device;
    }
    return p;
  } catch (...) {
    return absl::UnavailableError(absl::StrCat("rank ", rank(), ": starting an allreduce: ", CurrentError()));
  }
}

absl::Status DataParallelGroup::Wait(Pending& p, absl::string_view what) {
  try {
    // Gloo fails the collective itself after the timeout; the wait's own limit is a second guard.
    p.work->wait(options_.timeout + std::chrono::seconds(10));
    if (p.host.defined()) p.host.copy_(p.on_device);
    return absl::OkStatus();
  } catch (...) {
    return absl::UnavailableError(absl::StrCat(
        "rank ", rank(), " of ", world_size(), ": ", what, " failed (another rank died, or did not reach it within ",
        Seconds(options_.timeout), "): ", CurrentError()));
  }
}

absl::Status DataParallelGroup::AllReduceSum(torch::Tensor t, absl::string_view what) {
  absl::StatusOr<std::shared_ptr<Pending>> p = StartAllReduceSum(t);
  if (!p.ok()) return p.status();
  return Wait(**p, what);
}

absl::Status DataParallelGroup::BroadcastFromRoot(const std::vector<torch::Tensor>& tensors, absl::string_view what) {
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const torch::Tensor& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const torch::Tensor& t : group) flat_parts.push_back(t.reshape(-1));
    const torch::Tensor joined = torch::cat(flat_parts);
    const torch::Tensor flat = impl_->OnDevice(joined);
    try {
      std::vector<torch::Tensor> v = {flat};
      c10d::BroadcastOptions bo;
      bo.rootRank = 0;
      auto work = impl_->pg->broadcast(v, bo);
      Pending p(work);
      absl::Status s = Wait(p, absl::StrCat("broadcasting ", what, " from rank 0"));
      if (!s.ok()) return s;
    } catch (...) {
      return absl::UnavailableError(absl::StrCat("rank ", rank(), ": broadcasting ", what, ": ", CurrentError()));
    }
    int64_t offset = 0;
    for (const torch::Tensor& t : group) {
      const int64_t n = t.numel();
      t.copy_(flat.narrow(0, offset, n).view(t.sizes()));  // copy_ crosses devices
      offset += n;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> DataParallelGroup::GatherToRoot(const std::string& key,
                                                                         const std::string& bytes) {
  const std::string prefix = absl::StrCat("mrcnn/gather/", key, "/");
  try {
    impl_->store->set(absl::StrCat(prefix, rank()), std::vector<uint8_t>(bytes.begin(), bytes.end()));
    if (!is_root()) return std::vector<std::string>();
    std::vector<std::string> out;
    for (int r = 0; r < world_size(); ++r) {
      const std::string k = absl::StrCat(prefix, r);
      impl_->store->wait({k}, options_.timeout);
      std::vector<uint8_t> v = impl_->store->get(k);
      impl_->store->deleteKey(k);
      out.emplace_back(v.begin(), v.end());
    }
    return out;
  } catch (...) {
    return absl::UnavailableError(absl::StrCat("rank ", rank(), " of ", world_size(), ": gathering ", key,
                                               " on rank 0 failed (another rank died, or did not send within ",
                                               Seconds(options_.timeout), "): ", CurrentError()));
  }
}

// ---------------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<GradientAverager>> GradientAverager::Create(
    std::shared_ptr<DataParallelGroup> group, std::vector<std::pair<std::string, torch::Tensor>> params,
    int64_t bucket_bytes, int64_t first_bucket_bytes) {
  std::unique_ptr<GradientAverager> a(new GradientAverager());
  a->group_ = std::move(group);
  std::optional<c10::ScalarType> dtype;
  std::optional<torch::Device> device;
  for (auto& [name, p] : params) {
    if (!p.requires_grad()) continue;
    if (!dtype) dtype = p.scalar_type();
    if (!device) device = p.device();
    if (!p.is_floating_point() || p.scalar_type() != *dtype || p.device() != *device) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data-parallel training: parameter ", name, " is ", p.toString(), " on ", p.device().str(),
          " but the first trainable one is ", c10::toString(*dtype), " on ", device->str(),
          "; the trainable parameters must be tensors of one floating type on one device"));
    }
    a->params_.emplace_back(name, p);
  }
  a->dtype_ = dtype.value_or(torch::kFloat32);
  const torch::TensorOptions bucket_options =
      torch::TensorOptions().dtype(a->dtype_).device(device.value_or(torch::Device(torch::kCPU)));
  const int n = static_cast<int>(a->params_.size());
  a->bucket_of_.assign(n, -1);
  a->slot_of_.assign(n, -1);
  a->got_.assign(n, 0);
  // Buckets from the last parameter backwards: backward produces the heads' gradients first.
  Bucket current;
  auto close = [&] {
    if (current.params.empty()) return;
    current.flat = torch::zeros({current.numel + static_cast<int64_t>(current.params.size())}, bucket_options);
    a->buckets_.push_back(std::move(current));
    current = Bucket();
  };
  for (int i = n - 1; i >= 0; --i) {
    const int64_t numel = a->params_[i].second.numel();
    const int64_t cap = a->buckets_.empty() ? std::min(first_bucket_bytes, bucket_bytes) : bucket_bytes;
    if (!current.params.empty() && (current.numel + numel) * static_cast<int64_t>(c10::elementSize(a->dtype_)) > cap) {
      close();
    }
    a->bucket_of_[i] = static_cast<int>(a->buckets_.size());
    a->slot_of_[i] = static_cast<int>(current.params.size());
    current.params.push_back(i);
    current.offsets.push_back(current.numel);
    current.numel += numel;
  }
  close();
  for (int i = 0; i < n; ++i) {
    GradientAverager* self = a.get();
    a->hooks_.push_back(a->params_[i].second.register_hook([self, i](torch::Tensor grad) { self->OnGradient(i, grad); }));
  }
  a->StartStep();
  return a;
}

GradientAverager::~GradientAverager() {
  for (size_t i = 0; i < hooks_.size(); ++i) params_[i].second.remove_hook(hooks_[i]);
}

void GradientAverager::StartStep() {
  std::fill(got_.begin(), got_.end(), 0);
  for (Bucket& b : buckets_) {
    b.ready = 0;
    b.pending.reset();
  }
  next_launch_ = 0;
  hook_error_ = absl::OkStatus();
}

void GradientAverager::OnGradient(int i, const torch::Tensor& grad) {
  torch::NoGradGuard no_grad;
  Bucket& b = buckets_[bucket_of_[i]];
  const int slot = slot_of_[i];
  if (b.pending) {
    if (hook_error_.ok()) {
      hook_error_ = absl::InternalError(absl::StrCat(
          "data-parallel training: a gradient of ", params_[i].first,
          " arrived after its bucket's allreduce started (backward twice in one step?)"));
    }
    return;
  }
  torch::Tensor view = b.flat.narrow(0, b.offsets[slot], grad.numel());
  const double scale = 1.0 / group_->world_size();
  if (got_[i]) {
    view.add_(grad.reshape(-1), scale);
    return;
  }
  // As DDP's reducer: grad / world size into the bucket, then a sum over ranks.
  torch::mul_out(view, grad.reshape(-1), torch::scalar_tensor(scale, dtype_));
  b.flat.narrow(0, b.numel + slot, 1).fill_(1);
  got_[i] = 1;
  ++b.ready;
  LaunchReady();
}

void GradientAverager::LaunchReady() {
  while (next_launch_ < num_buckets() && buckets_[next_launch_].ready == static_cast<int>(buckets_[next_launch_].params.size())) {
    absl::Status s = Launch(buckets_[next_launch_]);
    if (!s.ok() && hook_error_.ok()) hook_error_ = s;
    ++next_launch_;
    ++started_in_backward_;
  }
}

absl::Status GradientAverager::Launch(Bucket& b) {
  // Parameters that got no gradient on this rank count as zero, "used" 0.
  for (size_t s = 0; s < b.params.size(); ++s) {
    const int i = b.params[s];
    if (!got_[i]) {
      b.flat.narrow(0, b.offsets[s], params_[i].second.numel()).zero_();
      b.flat.narrow(0, b.numel + static_cast<int64_t>(s), 1).fill_(0);
    }
  }
  absl::StatusOr<std::shared_ptr<DataParallelGroup::Pending>> p = group_->StartAllReduceSum(b.flat);
  if (!p.ok()) return p.status();
  b.pending = *p;
  ++started_;
  return absl::OkStatus();
}

absl::Status GradientAverager::Finish() {
  const auto t0 = std::chrono::steady_clock::now();
  absl::Status status = hook_error_;
  for (; next_launch_ < num_buckets() && status.ok(); ++next_launch_) status = Launch(buckets_[next_launch_]);
  torch::NoGradGuard no_grad;
  for (int k = 0; k < num_buckets() && status.ok(); ++k) {
    Bucket& b = buckets_[k];
    if (!b.pending) continue;
    status = group_->Wait(*b.pending, absl::StrCat("the gradient allreduce (bucket ", k + 1, " of ", num_buckets(), ")"));
    if (!status.ok()) break;
    const torch::Tensor used =
        b.flat.narrow(0, b.numel, static_cast<int64_t>(b.params.size())).to(torch::kCPU, torch::kFloat64);
    const double* used_by = used.data_ptr<double>();
    for (size_t s = 0; s < b.params.size(); ++s) {
      torch::Tensor& p = params_[b.params[s]].second;
      if (used_by[s] == 0.0) {
        p.mutable_grad() = torch::Tensor();
        continue;
      }
      torch::Tensor mean = b.flat.narrow(0, b.offsets[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
  StartStep();
  exposed_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return status;
}

}  // namespace mrcnn
