"""mrcnn_fuzz_test: a libFuzzer target over one parser of untrusted input.

Built only with --config=fuzz (clang-14, tests/fuzz/run_fuzzers.sh); without it the target is
incompatible, and its "manual" tag keeps it out of `bazel build //...` and `bazel test //...` anyway.
As a test (`bazel test --config=fuzz //tests/fuzz:NAME`) it runs every file of its seed corpus,
corpus/NAME/, once: a regression check, not a fuzzing session.
"""

FUZZ_ONLY = select({
    "//tests/fuzz:fuzz_enabled": [],
    "//conditions:default": ["//tests/fuzz:fuzz_never"],
})

def mrcnn_fuzz_test(name, srcs, deps = [], **kwargs):
    corpus = native.glob(["corpus/%s/*" % name])
    if not corpus:
        fail("%s: corpus/%s/ holds no seed inputs" % (name, name))
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps,
        # libFuzzer's main(); the sanitizers come from --config=fuzz for every compiled file.
        linkopts = ["-fsanitize=fuzzer"],
        linkstatic = True,
        data = corpus,
        # Files (not the folder) as arguments: libFuzzer runs each once and exits.
        args = ["$(location %s)" % f for f in corpus],
        size = "small",
        tags = ["fuzz", "manual"],
        target_compatible_with = FUZZ_ONLY,
        **kwargs
    )
