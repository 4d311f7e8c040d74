#include "mrcnn/precision/cpu_isa.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace mrcnn {

std::vector<std::string> CpuIsa::FlagNames() const {
  std::vector<std::string> names;
  if (avx512f) names.push_back("avx512f");
  if (avx512_bf16) names.push_back("avx512_bf16");
  if (avx512_fp16) names.push_back("avx512_fp16");
  if (amx_tile) names.push_back("amx_tile");
  if (amx_bf16) names.push_back("amx_bf16");
  if (amx_int8) names.push_back("amx_int8");
  return names;
}

std::string CpuIsa::Bf16Kernels() const {
  if (amx_bf16 && amx_tile) return "amx_bf16";
  if (avx512_bf16) return "avx512_bf16";
  return "none";
}

CpuIsa DetectCpuIsa() {
  CpuIsa isa;
#if defined(__x86_64__) || defined(__i386__)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return isa;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned int max_subleaf = eax;
  isa.avx512f = (ebx >> 16) & 1;
  isa.amx_bf16 = (edx >> 22) & 1;
  isa.avx512_fp16 = (edx >> 23) & 1;
  isa.amx_tile = (edx >> 24) & 1;
  isa.amx_int8 = (edx >> 25) & 1;
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    isa.avx512_bf16 = (eax >> 5) & 1;
  }
#endif
  return isa;
}

std::string CpuIsaSummary() {
  const CpuIsa isa = DetectCpuIsa();
  const std::vector<std::string> flags = isa.FlagNames();
  std::string s = absl::StrCat("bf16 kernels: ", isa.Bf16Kernels(), " (cpu: ",
                               flags.empty() ? "no avx512/amx" : absl::StrJoin(flags, " "), ")");
  if (isa.Bf16Kernels() == "none") {
    absl::StrAppend(&s, "; no bf16 hardware: oneDNN converts bf16 to fp32, PRECISION=bf16 may be slower");
  }
  return s;
}

}  // namespace mrcnn
