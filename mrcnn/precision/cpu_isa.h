// The CPU's instruction sets that decide how fast bf16 runs, read with CPUID at run time.
//
// oneDNN runs bf16 convolutions and matrix products on AMX tiles (amx_bf16), on AVX512-BF16 dot
// products (avx512_bf16), or, on a CPU with neither, by converting to fp32, which can be slower than
// plain fp32. Binaries say which once at start when PRECISION=bf16, and the experiment log records
// CpuIsaSummary() in its provenance so a trial's timing can be read against its machine.
//
//   CpuIsa isa = DetectCpuIsa();
//   LOG(INFO) << CpuIsaSummary();  // "bf16 kernels: avx512_bf16 (cpu: avx512f avx512_bf16 ...)"
#ifndef MRCNN_PRECISION_CPU_ISA_H_
#define MRCNN_PRECISION_CPU_ISA_H_

#include <string>
#include <vector>

namespace mrcnn {

struct CpuIsa {
  bool avx512f = false;
  bool avx512_bf16 = false;
  bool avx512_fp16 = false;
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;

  // Names as Linux spells them in /proc/cpuinfo's flags, in the order of the fields above.
  std::vector<std::string> FlagNames() const;
  // The fastest bf16 path oneDNN can take: "amx_bf16", "avx512_bf16" or "none".
  std::string Bf16Kernels() const;
};

// CPUID leaves 7.0 and 7.1; all false on a non-x86 CPU.
CpuIsa DetectCpuIsa();

// One line for logs and provenance: "bf16 kernels: <Bf16Kernels> (cpu: <flags>)", plus a warning when
// bf16 has no hardware path.
std::string CpuIsaSummary();

}  // namespace mrcnn

#endif  // MRCNN_PRECISION_CPU_ISA_H_
