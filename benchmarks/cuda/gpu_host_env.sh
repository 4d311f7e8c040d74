# Sourced by the bundle's scripts on the GPU machine: unpacks the bundled Debian libraries and points
# the loader at them and at the machine's PyTorch (its LibTorch and CUDA libraries). Sets $g, the
# bundle's folder.
g=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p /tmp/mrcnn-libs && tar -C /tmp/mrcnn-libs -xJf "$g/libs.tar.xz"
sp=$(python3 -c 'import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))')
export LD_LIBRARY_PATH=/tmp/mrcnn-libs:$sp/torch/lib:$(ls -d "$sp"/nvidia/*/lib "$sp"/nvidia/*/*/lib 2>/dev/null | tr '\n' ':')
for b in "$g"/train "$g"/evaluate "$g"/model_benchmark; do
  [[ -x $b ]] && ldd "$b" | grep "not found"
done
true
