// Loads the reference outputs written by gen_reference.py (torchvision via Debian's python3): each
// file under tests/testdata/ops/ is a torch.save'd dict {name: tensor}.
//
//   Reference ref = LoadReference("nms");
//   at::Tensor boxes = ref.at("nms/0/boxes");
#ifndef TESTS_MRCNN_OPS_REFERENCE_H_
#define TESTS_MRCNN_OPS_REFERENCE_H_

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace mrcnn {
namespace ops {
namespace testing {

class Reference {
 public:
  explicit Reference(std::map<std::string, at::Tensor> entries) : entries_(std::move(entries)) {}
  // The tensor stored under `key`; throws std::out_of_range naming the key when absent.
  const at::Tensor& at(const std::string& key) const;
  int64_t Int(const std::string& key) const { return at(key).item<int64_t>(); }
  double Double(const std::string& key) const { return at(key).item<double>(); }
  bool Bool(const std::string& key) const { return at(key).item<bool>(); }
  size_t size() const { return entries_.size(); }

 private:
  std::map<std::string, at::Tensor> entries_;
};

// Reads tests/testdata/ops/<name>.pt (relative to the test's runfiles directory).
Reference LoadReference(const std::string& name);

// Largest absolute difference of two tensors of the same shape (as double); fails on shape
// mismatch.
double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b);

}  // namespace testing
}  // namespace ops
}  // namespace mrcnn

#endif  // TESTS_MRCNN_OPS_REFERENCE_H_
