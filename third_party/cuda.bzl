"""cuda_library: CUDA C++ compiled by nvcc (CUDA_HOME, default /usr/local/cuda) into a cc_library.

Built only with --config=cuda; without it the targets are incompatible and `bazel build //...` skips
them. Code: sm_90 (H100/H200) machine code plus compute_90 PTX, so newer cards JIT the PTX.
"""

NVCC_FLAGS = [
    "-std=c++17",
    "-O3",
    "--expt-relaxed-constexpr",
    "-Xcompiler=-fPIC",
    "-Xcompiler=-Wall",
    "-Werror=all-warnings",
    "-gencode=arch=compute_90,code=sm_90",
    "-gencode=arch=compute_90,code=compute_90",
]

CUDA_ONLY = select({
    "//third_party:cuda_enabled": [],
    "//conditions:default": ["//third_party:cuda_never"],
})

def cuda_library(name, srcs, hdrs = [], deps = [], cu_hdrs = [], **kwargs):
    """srcs: .cu files; hdrs: public headers; cu_hdrs: other headers (labels) the .cu files include."""
    objs = []
    for src in srcs:
        stem = src.rsplit(".", 1)[0].replace("/", "_")
        obj = "_objs/%s/%s.pic.o" % (name, stem)
        native.genrule(
            name = "%s_%s_nvcc" % (name, stem),
            srcs = [src] + hdrs + cu_hdrs,
            outs = [obj],
            tools = ["@cuda//:nvcc"],
            cmd = "$(location @cuda//:nvcc) %s -I. -I$(GENDIR) -c $(location %s) -o $@" % (
                " ".join(NVCC_FLAGS),
                src,
            ),
            target_compatible_with = CUDA_ONLY,
            visibility = ["//visibility:private"],
        )
        objs.append(obj)
    native.cc_library(
        name = name,
        srcs = objs,
        hdrs = hdrs,
        deps = deps + ["//third_party:cuda"],
        target_compatible_with = CUDA_ONLY,
        **kwargs
    )
