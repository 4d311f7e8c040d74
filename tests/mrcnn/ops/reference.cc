#include "tests/mrcnn/ops/reference.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace mrcnn {
namespace ops {
namespace testing {

const at::Tensor& Reference::at(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) throw std::out_of_range("reference entry not found: " + key);
  return it->second;
}

Reference LoadReference(const std::string& name) {
  const std::string path = "tests/testdata/ops/" + name + ".pt";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open reference file " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const c10::IValue value = torch::jit::pickle_load(bytes);
  std::map<std::string, at::Tensor> entries;
  for (const auto& item : value.toGenericDict()) {
    entries[item.key().toStringRef()] = item.value().toTensor();
  }
  return Reference(std::move(entries));
}

double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  if (a.sizes() != b.sizes()) {
    throw std::runtime_error("MaxAbsDiff: shapes differ");
  }
  if (a.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace testing
}  // namespace ops
}  // namespace mrcnn
