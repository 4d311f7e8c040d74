#include "mrcnn/weights/weights.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include <torch/serialize.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"

namespace mrcnn {
namespace {

std::string ShapeText(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// Every parameter and buffer of the module, by its dotted name.
std::map<std::string, torch::Tensor> ModuleTensors(const torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out[item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out[item.key()] = item.value();
  return out;
}

// A whole zip archive ends with its end-of-central-directory record ("PK\5\6" or, zip64, "PK\6\6"),
// at most 64 KiB of comment before the end.
bool HasZipDirectory(const std::vector<char>& bytes) {
  const size_t window = std::min<size_t>(bytes.size(), 22 + 65535 + 56 + 20);
  for (size_t i = bytes.size() - window; i + 4 <= bytes.size(); ++i) {
    if (bytes[i] == 'P' && bytes[i + 1] == 'K' && ((bytes[i + 2] == 5 && bytes[i + 3] == 6) ||
                                                   (bytes[i + 2] == 6 && bytes[i + 3] == 6))) {
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<TensorMap> ReadTensorFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open weight file"));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": empty file (0 bytes); a weight file or checkpoint that was never written whole"));
  }
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K') {
    // Python's legacy torch.save format is a pickle stream: protocol 2+ opens with byte 0x80.
    if (static_cast<unsigned char>(bytes[0]) == 0x80) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": a legacy (pre-1.6, non-zip) torch.save pickle, which LibTorch cannot read; re-save it "
                "with mrcnn/weights/convert_torchvision.py"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a weight file (neither a zip archive written by torch.save nor a legacy pickle)"));
  }
  if (!HasZipDirectory(bytes)) {
    return absl::DataLossError(absl::StrCat(
        path, ": truncated: the zip archive ends before its directory (", bytes.size(),
        " bytes; an interrupted copy or download?)"));
  }
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": cannot unpickle (LibTorch reads torch.save of a plain dict of tensors; convert "
              "checkpoints with mrcnn/weights/convert_torchvision.py): ",
        e.what_without_backtrace()));
  }
  if (!value.isGenericDict()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": expected a dict of name -> tensor, got ",
        value.tagKind(), " (convert checkpoints with mrcnn/weights/convert_torchvision.py)"));
  }
  TensorMap out;
  for (const auto& kv : value.toGenericDict()) {
    if (!kv.key().isString()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": dict key of type ", kv.key().tagKind(), " (expected strings)"));
    }
    const std::string& name = kv.key().toStringRef();
    if (!kv.value().isTensor()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": entry '", name, "' is a ",
                                                     kv.value().tagKind(), ", not a tensor"));
    }
    out[name] = kv.value().toTensor();
  }
  return out;
}

absl::Status WriteTensorFile(const std::string& path, const TensorMap& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().cpu().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  std::ofstream out(path, std::ios::binary);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

bool IsExcluded(const std::string& name, const std::vector<std::string>& exclude) {
  for (const std::string& e : exclude) {
    if (e.empty()) continue;
    if (name == e) return true;
    if (absl::StartsWith(name, e) && (e.back() == '.' || name[e.size()] == '.')) return true;
  }
  return false;
}

LoadReport LoadStateDict(torch::nn::Module& module, const TensorMap& tensors,
                         const std::vector<std::string>& exclude) {
  LoadReport report;
  const std::map<std::string, torch::Tensor> targets = ModuleTensors(module);
  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    if (IsExcluded(name, exclude)) continue;
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      // BatchNorm's step counter changes nothing with a fixed momentum; the converter drops it.
      if (!absl::EndsWith(name, ".num_batches_tracked")) report.missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != target.sizes()) {
      report.shape_mismatch.push_back(
          absl::StrCat(name, ": file ", ShapeText(it->second), " vs module ", ShapeText(target)));
      continue;
    }
    torch::Tensor dst = target;  // shares storage with the module's tensor
    dst.copy_(it->second);
    report.loaded.push_back(name);
  }
  for (const auto& [name, t] : tensors) {
    if (IsExcluded(name, exclude)) {
      report.excluded.push_back(name);
    } else if (targets.count(name) == 0) {
      report.unused.push_back(name);
    }
  }
  return report;
}

absl::StatusOr<LoadReport> LoadWeights(torch::nn::Module& module, const std::string& path,
                                       const std::vector<std::string>& exclude) {
  absl::StatusOr<TensorMap> tensors = ReadTensorFile(path);
  if (!tensors.ok()) return tensors.status();
  return LoadStateDict(module, *tensors, exclude);
}

TensorMap StateDict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& [name, t] : ModuleTensors(module)) out[name] = t.detach().cpu();
  return out;
}

absl::Status SaveWeights(const torch::nn::Module& module, const std::string& path) {
  return WriteTensorFile(path, StateDict(module));
}

std::string LoadReport::Summary() const {
  std::ostringstream s;
  s << "loaded " << loaded.size() << ", shape mismatch " << shape_mismatch.size() << ", excluded "
    << excluded.size() << ", missing " << missing.size() << ", unused " << unused.size() << "\n";
  for (const std::string& n : shape_mismatch) s << "  shape mismatch: " << n << "\n";
  for (const std::string& n : missing) s << "  missing: " << n << "\n";
  for (const std::string& n : unused) s << "  unused: " << n << "\n";
  return s.str();
}

}  // namespace mrcnn
