// CPUID's answer against the kernel's: Linux lists the same instruction sets as /proc/cpuinfo flags
// (an independent reading of CPUID, filtered by what the kernel enables, e.g. AMX needs its XSAVE
// state). Where the file is absent (not Linux, sandboxed), only the summary's form is checked.
#include "mrcnn/precision/cpu_isa.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

namespace mrcnn {
namespace {

// The first "flags" line of /proc/cpuinfo as a set; empty when unreadable.
std::set<std::string> KernelFlags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(CpuIsaTest, AgreesWithTheKernelsFlags) {
  const std::set<std::string> kernel = KernelFlags();
  if (kernel.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  const CpuIsa isa = DetectCpuIsa();
  // CPUID may report AMX that the kernel has not enabled, never the other way round.
  EXPECT_EQ(isa.avx512f, kernel.count("avx512f") == 1);
  EXPECT_EQ(isa.avx512_bf16, kernel.count("avx512_bf16") == 1);
  EXPECT_EQ(isa.avx512_fp16, kernel.count("avx512_fp16") == 1);
  if (kernel.count("amx_bf16")) {
    EXPECT_TRUE(isa.amx_bf16);
  }
  if (kernel.count("amx_tile")) {
    EXPECT_TRUE(isa.amx_tile);
  }
  std::cout << CpuIsaSummary() << "\n";
}

TEST(CpuIsaTest, Bf16KernelsPrefersAmxThenAvx512Bf16) {
  CpuIsa isa;
  EXPECT_EQ(isa.Bf16Kernels(), "none");
  isa.avx512f = isa.avx512_bf16 = true;
  EXPECT_EQ(isa.Bf16Kernels(), "avx512_bf16");
  isa.amx_bf16 = true;  // without the tile unit AMX-BF16 cannot run
  EXPECT_EQ(isa.Bf16Kernels(), "avx512_bf16");
  isa.amx_tile = true;
  EXPECT_EQ(isa.Bf16Kernels(), "amx_bf16");
  EXPECT_EQ(isa.FlagNames(), (std::vector<std::string>{"avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}));
}

TEST(CpuIsaTest, SummaryNamesTheKernelsAndWarnsWithoutBf16Hardware) {
  const std::string s = CpuIsaSummary();
  EXPECT_EQ(s.rfind("bf16 kernels: " + DetectCpuIsa().Bf16Kernels(), 0), 0u) << s;
  if (DetectCpuIsa().Bf16Kernels() == "none") {
    EXPECT_NE(s.find("may be slower"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace mrcnn
