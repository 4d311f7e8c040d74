"""Repositories of the workbench: Bazel's own helpers resolved offline, and system libraries.

This file and third_party/BUILD.bazel are the only places that name system paths. Three locations can be
overridden for users who bring their own builds:
  LIBTORCH_HOME  a LibTorch folder as pytorch.org ships it (include/, lib/), e.g. a CUDA build.
                 Default: Debian's libtorch-dev (/usr/include, /usr/lib/<multiarch>).
  CUDA_HOME      the CUDA toolkit used by --config=cuda. Default: /usr/local/cuda.
  NCCL_HOME      NCCL (include/nccl.h) for data-parallel training on GPUs with a CUDA LibTorch; also
                 looked for under CUDA_HOME and /usr/include.
Set them in the environment of the bazel command (bazel re-reads them when they change).
"""

_MULTIARCH_LIB = "/usr/lib/x86_64-linux-gnu"

def _symlink_existing(ctx, src_root, names, dest_root):
    """Links src_root/name to dest_root/name for each name that exists; returns the names linked."""
    linked = []
    for name in names:
        src = ctx.path(src_root + "/" + name)
        if src.exists:
            ctx.symlink(src, dest_root + "/" + name)
            linked.append(name)
    return linked

def _libtorch_impl(ctx):
    home = ctx.os.environ.get("LIBTORCH_HOME", "")
    if home:
        inc = home + "/include"
        lib = home + "/lib"
    else:
        inc = "/usr/include"
        lib = _MULTIARCH_LIB
    if not ctx.path(inc + "/torch/csrc/api/include/torch/torch.h").exists:
        fail("LibTorch headers not found under %s (set LIBTORCH_HOME to a LibTorch folder, or run ./setup.sh)" % inc)
    if not ctx.path(lib + "/libtorch_cpu.so").exists:
        fail("LibTorch libraries not found under %s (set LIBTORCH_HOME, or run ./setup.sh)" % lib)
    _symlink_existing(ctx, inc, ["torch", "ATen", "c10", "caffe2"], "include")

    # torch's c10d (ProcessGroupGloo, TCPStore) is compiled into libtorch_cpu, but ProcessGroupGloo.hpp
    # is inside #ifdef USE_C10D_GLOO and includes Gloo's headers: a LibTorch folder may ship them in
    # include/gloo; Debian has them in libgloo-dev (/usr/include/gloo).
    gloo_inc = ""
    for candidate in [inc, "/usr/include"]:
        if ctx.path(candidate + "/gloo/algorithm.h").exists:
            gloo_inc = candidate
            break
    if gloo_inc:
        ctx.symlink(gloo_inc + "/gloo", "gloo_include/gloo")
    libs = ["torch", "torch_cpu", "c10"]
    has_cuda = ctx.path(lib + "/libtorch_cuda.so").exists
    if has_cuda:
        libs += ["torch_cuda", "c10_cuda"]

    # NCCL for c10d's ProcessGroupNCCL (data-parallel training on GPUs): a CUDA LibTorch has it compiled
    # in, but its header includes <nccl.h>, which comes with NCCL (NCCL_HOME, the CUDA toolkit, or the
    # system). Without the header the c10d target has Gloo only.
    nccl_inc = ""
    if has_cuda:
        candidates = [inc]
        for var in ["NCCL_HOME", "CUDA_HOME"]:
            v = ctx.os.environ.get(var, "")
            if v:
                candidates.append(v + "/include")
        candidates += ["/usr/local/cuda/include", "/usr/include"]
        for candidate in candidates:
            if ctx.path(candidate + "/nccl.h").exists:
                nccl_inc = candidate
                break
    if nccl_inc:
        ctx.symlink(nccl_inc + "/nccl.h", "nccl_include/nccl.h")
    # push/pop: the libraries linked after LibTorch keep the linker's own setting (a trailing
    # --as-needed dropped abseil libraries that only a shared library among a test's deps needed).
    linkopts = ["-L" + lib, "-Wl,-rpath," + lib, "-Wl,--push-state,--no-as-needed"]
    linkopts += ["-l" + name for name in libs]
    linkopts += ["-Wl,--pop-state"]
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "libtorch",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp", "include/**/*.cuh"]),
    includes = ["include", "include/torch/csrc/api/include"],
    linkopts = {linkopts},
    defines = {defines},
)

# c10d with its Gloo backend: only the data-parallel code depends on this, so the define and Gloo's
# headers do not reach (and recompile) the rest. Empty when Gloo's headers are missing: the build of a
# target that uses it then fails on the #include, and the message below says what to install.
cc_library(
    name = "c10d",
    hdrs = glob(["gloo_include/gloo/**/*.h", "nccl_include/*.h"]),
    includes = ["gloo_include", "nccl_include"],
    defines = {c10d_defines},
    deps = [":libtorch"],
)
""".format(
        linkopts = repr(linkopts),
        defines = repr(["MRCNN_TORCH_HAS_CUDA"] if has_cuda else []),
        c10d_defines = repr(["USE_C10D_GLOO"] + (["USE_C10D_NCCL"] if nccl_inc else [])),
    ))

libtorch_repository = repository_rule(
    implementation = _libtorch_impl,
    environ = ["LIBTORCH_HOME", "NCCL_HOME", "CUDA_HOME"],
    local = True,
)

def _opencv_impl(ctx):
    inc = "/usr/include/opencv4"
    if not ctx.path(inc + "/opencv2/core.hpp").exists:
        fail("OpenCV headers not found under %s (run ./setup.sh)" % inc)
    ctx.symlink(inc + "/opencv2", "include/opencv2")
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "opencv",
    hdrs = glob(["include/**/*.h", "include/**/*.hpp"]),
    includes = ["include"],
    linkopts = ["-lopencv_imgcodecs", "-lopencv_imgproc", "-lopencv_core"],
)
""")

opencv_repository = repository_rule(
    implementation = _opencv_impl,
    local = True,
)

def _cuda_impl(ctx):
    home = ctx.os.environ.get("CUDA_HOME", "") or "/usr/local/cuda"
    found = ctx.path(home + "/bin/nvcc").exists and ctx.path(home + "/include/cuda_runtime.h").exists
    if found:
        ctx.symlink(home + "/include", "include")
        # A wrapper rather than a symlink: nvcc finds its headers (cub, thrust) from its real path.
        ctx.file("nvcc", "#!/bin/sh\nexec '%s/bin/nvcc' \"$@\"\n" % home, executable = True)
        lib = home + "/lib64"
        hdrs = 'glob(["include/*.h", "include/crt/*.h", "include/crt/*.hpp", "include/cuda/**", "include/cub/**", "include/thrust/**", "include/nv/**"], allow_empty = True)'
        linkopts = ["-L" + lib, "-Wl,-rpath," + lib, "-lcudart"]
    else:
        hdrs = "[]"
        linkopts = []
    ctx.file("BUILD.bazel", """
package(default_visibility = ["//visibility:public"])

# found = {found} (CUDA_HOME or /usr/local/cuda)
cc_library(
    name = "cuda_runtime",
    hdrs = {hdrs},
    includes = {includes},
    linkopts = {linkopts},
)

exports_files({exports})
""".format(
        found = found,
        hdrs = hdrs,
        includes = repr(["include"] if found else []),
        linkopts = repr(linkopts),
        exports = repr(["nvcc"] if found else []),
    ))

cuda_repository = repository_rule(
    implementation = _cuda_impl,
    environ = ["CUDA_HOME"],
    local = True,
)

def mrcnn_system_repositories():
    """Declares every external repository of the workspace. Called from WORKSPACE."""

    # Debian's bazel-rules-java and bazel-platforms install these; Bazel 4 would otherwise download them.
    native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    native.local_repository(name = "platforms", path = "/usr/share/bazel/platforms")

    # Debian's bazel-rules-cc needs a newer Bazel; a stand-in forwards to the native rules.
    native.local_repository(name = "rules_cc", path = "third_party/offline/rules_cc")

    # Named by @bazel_tools//tools/test as implicit attributes of test rules.
    native.local_repository(name = "remote_coverage_tools", path = "third_party/offline/remote_coverage_tools")

    libtorch_repository(name = "libtorch")
    opencv_repository(name = "opencv")
    cuda_repository(name = "cuda")
