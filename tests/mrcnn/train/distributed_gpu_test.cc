// The NCCL path of data-parallel training (distributed.h) on a GPU. Built with --config=cuda against
// a CUDA LibTorch whose NCCL header was found (USE_C10D_NCCL); elsewhere the NCCL cases report
// SKIPPED and the case without NCCL checks the error. One GPU allows one NCCL rank (NCCL refuses two
// ranks on one device), so the cases use a job of one rank: the rendezvous, NCCL's communicator, the
// collectives on CUDA tensors and on CPU tensors (which travel through the device), and the
// gradient averager's buckets on the device. The arithmetic of more ranks is the Gloo tests'.
#include <torch/cuda.h>
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "mrcnn/train/distributed.h"
#include "mrcnn/train/launcher.h"

namespace mrcnn {
namespace {

RankOptions OneNcclRank() {
  RankOptions o;
  o.rank = 0;
  o.world_size = 1;
  absl::StatusOr<int> port = FreeLoopbackPort();
  EXPECT_TRUE(port.ok()) << port.status();
  o.master_port = port.value_or(29517);
  o.timeout = std::chrono::seconds(60);
  o.backend = "nccl";
  o.cuda_device = 0;
  return o;
}

TEST(DistributedGpuTest, WithoutNcclTheErrorSaysHowToBuild) {
  if (HaveNccl()) GTEST_SKIP() << "this binary has NCCL";
  absl::StatusOr<std::shared_ptr<DataParallelGroup>> g = DataParallelGroup::Connect(OneNcclRank(), "{}");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(std::string(g.status().message()).find("needs NCCL"), std::string::npos) << g.status();
}

TEST(DistributedGpuTest, NcclCollectivesAndGradientBuckets) {
  if (!HaveNccl() || !torch::cuda::is_available()) GTEST_SKIP() << "no NCCL build or no GPU";
  absl::StatusOr<std::shared_ptr<DataParallelGroup>> g = DataParallelGroup::Connect(OneNcclRank(), "{}");
  ASSERT_TRUE(g.ok()) << g.status();
  const torch::Device cuda(torch::kCUDA, 0);
  torch::manual_seed(1);
  // Broadcast: CUDA and CPU tensors of two dtypes keep rank 0's values.
  torch::Tensor a = torch::randn({5, 3}, torch::TensorOptions().device(cuda));
  torch::Tensor b = torch::arange(7, torch::kLong);
  const torch::Tensor a0 = a.clone(), b0 = b.clone();
  ASSERT_TRUE((*g)->BroadcastFromRoot({a, b}, "test tensors").ok());
  EXPECT_TRUE(torch::equal(a, a0));
  EXPECT_TRUE(torch::equal(b, b0));
  // Allreduce (sum over one rank): the values stay, on their own device.
  torch::Tensor c = torch::tensor({1.5, -2.0, 3.25}, torch::kDouble);
  ASSERT_TRUE((*g)->AllReduceSum(c, "cpu values").ok());
  EXPECT_TRUE(torch::equal(c, torch::tensor({1.5, -2.0, 3.25}, torch::kDouble)));
  torch::Tensor d = torch::full({1000}, 0.5f, torch::TensorOptions().device(cuda));
  ASSERT_TRUE((*g)->AllReduceSum(d, "cuda values").ok());
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.sum().item<float>(), 500.0f);

  // The averager over a small CUDA network: buckets on the device; the mean over one rank is the
  // rank's own gradient; a frozen parameter is left alone.
  torch::nn::Sequential net(torch::nn::Linear(16, 32), torch::nn::ReLU(), torch::nn::Linear(32, 4));
  net->to(cuda);
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  params.front().second.set_requires_grad(false);
  absl::StatusOr<std::unique_ptr<GradientAverager>> avg =
      GradientAverager::Create(*g, params, /*bucket_bytes=*/1024, /*first_bucket_bytes=*/256);
  ASSERT_TRUE(avg.ok()) << avg.status();
  EXPECT_GT((*avg)->num_buckets(), 1);
  const torch::Tensor x = torch::randn({8, 16}, torch::TensorOptions().device(cuda));
  (*avg)->StartStep();
  net->forward(x).pow(2).mean().backward();
  std::vector<torch::Tensor> own;
  for (const auto& [name, p] : params) own.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  ASSERT_TRUE((*avg)->Finish().ok());
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& p = params[i].second;
    if (!own[i].defined()) {
      EXPECT_FALSE(p.grad().defined()) << params[i].first;
      continue;
    }
    ASSERT_TRUE(p.grad().is_cuda()) << params[i].first;
    EXPECT_LT((p.grad() - own[i]).abs().max().item<float>(), 1e-6f) << params[i].first;
  }
  EXPECT_GT((*avg)->buckets_started_in_backward(), 0);
}

}  // namespace
}  // namespace mrcnn
