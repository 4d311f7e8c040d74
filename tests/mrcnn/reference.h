// Test helpers for comparing the C++ model with Debian's torchvision.
//
// Reference data is made at test time by tests/mrcnn/torchvision_reference.py (run with
// /usr/bin/python3) inside TEST_TMPDIR; checkpoints go through the real converter
// (mrcnn/weights/convert_torchvision.py) before the C++ side loads them.
//
//   absl::StatusOr<std::string> dir = RunTorchvisionReference("heads --classes 5", "heads");
//   absl::StatusOr<std::string> weights = ConvertCheckpoint(*dir + "/model.pth");
//   TensorMap ref = *ReadTensorFile(*dir + "/ref.pt");
//   EXPECT_TRUE(AllClose(ours, ref.at("class_logits"), 1e-5, 1e-4));
#ifndef TESTS_MRCNN_REFERENCE_H_
#define TESTS_MRCNN_REFERENCE_H_

#include <string>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "absl/status/statusor.h"

namespace mrcnn {
namespace testing {

// A fresh folder TEST_TMPDIR/<name> (or under /tmp outside Bazel).
std::string TempDir(const std::string& name);

// Runs a shell command; on failure the status carries the exit code and the output's tail.
absl::Status RunCommand(const std::string& command);

// Runs torchvision_reference.py <args> --out TempDir(name); returns that folder.
absl::StatusOr<std::string> RunTorchvisionReference(const std::string& args, const std::string& name);

// Runs the converter on a .pth; returns the path of the converted file (<pth without .pth>.pt).
absl::StatusOr<std::string> ConvertCheckpoint(const std::string& pth);

// |actual - expected| <= atol + rtol * |expected| everywhere, and equal shapes; the failure message
// gives the largest difference and where it is.
::testing::AssertionResult AllClose(const torch::Tensor& actual, const torch::Tensor& expected,
                                    double atol, double rtol);

}  // namespace testing
}  // namespace mrcnn

#endif  // TESTS_MRCNN_REFERENCE_H_
