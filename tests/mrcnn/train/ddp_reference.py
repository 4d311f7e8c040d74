#!/usr/bin/python3
"""Reference gradients from PyTorch's own DistributedDataParallel for //tests/mrcnn/train:distributed_test.

Run with Debian's /usr/bin/python3 (python3-torch 1.13, Gloo); the test runs it at test time into its
TEST_TMPDIR. Two processes (torch.multiprocessing, Gloo over a FileStore in --out) wrap a small network
in torch.nn.parallel.DistributedDataParallel, each with its own half of a global batch, and run one
forward and backward. The network has a layer frozen with requires_grad=False, a layer no rank uses and a
layer only rank 0 uses (so find_unused_parameters=True), and a small bucket cap so that the gradients
travel in several buckets. Rank 0 writes --out/ref.pt, a plain dict of tensors:

  param.<name>   the initial weights (rank 0's, which DDP broadcasts to rank 1 at construction)
  x.<r>, y.<r>   rank r's inputs [3, 3, 8, 8] and class labels [3]
  grad.<name>    the averaged gradient DDP leaves in .grad (absent where it leaves None)
  local.<r>.<name>  rank r's own gradient before averaging (a plain backward without DDP)

Usage: ddp_reference.py --out DIR [--seed N]
"""
import argparse
import datetime
import faulthandler
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.frozen = nn.Conv2d(8, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 5)
        self.rank0_only = nn.Linear(16 * 4 * 4, 5)
        self.unused = nn.Linear(4, 4)

    def forward(self, x, use_rank0_only):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.frozen(x))
        x = torch.relu(self.conv2(x)).flatten(1)
        out = self.fc(x)
        if use_rank0_only:
            out = out + self.rank0_only(x)
        return out


def build(seed):
    torch.manual_seed(seed)
    net = Net()
    net.frozen.weight.requires_grad_(False)
    net.frozen.bias.requires_grad_(False)
    return net


def data(seed, rank):
    g = torch.Generator().manual_seed(seed * 100 + rank)
    return torch.randn(3, 3, 8, 8, generator=g), torch.randint(0, 5, (3,), generator=g)


def run(rank, world, out, seed):
    # A rank stuck for 120 s prints where (all threads) and exits, so a hang shows in the test's log.
    faulthandler.dump_traceback_later(120, exit=True)
    torch.set_num_threads(1)
    store = dist.FileStore(os.path.join(out, "store"), world)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=60))
    # Rank 1 starts from other weights: DDP must replace them with rank 0's.
    net = build(seed if rank == 0 else seed + 1)
    initial = {k: v.detach().clone() for k, v in net.named_parameters()}
    ddp = nn.parallel.DistributedDataParallel(net, find_unused_parameters=True, bucket_cap_mb=0.004)
    x, y = data(seed, rank)
    loss = nn.functional.cross_entropy(ddp(x, rank == 0), y)
    loss.backward()
    # Each rank's own gradient on the broadcast weights, without DDP.
    local = build(seed)
    local.load_state_dict(net.state_dict())
    nn.functional.cross_entropy(local(x, rank == 0), y).backward()
    locals_ = [None] * world
    dist.all_gather_object(locals_, {k: p.grad for k, p in local.named_parameters() if p.grad is not None})
    xs = [None] * world
    dist.all_gather_object(xs, (x, y))
    if rank == 0:
        ref = {}
        for k, v in initial.items():
            ref["param." + k] = v
        for r in range(world):
            ref[f"x.{r}"], ref[f"y.{r}"] = xs[r]
            for k, v in locals_[r].items():
                ref[f"local.{r}.{k}"] = v
        for k, p in net.named_parameters():
            if p.grad is not None:
                ref["grad." + k] = p.grad
        torch.save({k: v.detach().contiguous() for k, v in ref.items()}, os.path.join(out, "ref.pt"))
    dist.barrier()
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=3)
    a = parser.parse_args()
    os.makedirs(a.out, exist_ok=True)
    # Gloo on the loopback interface, as our ranks use it (distributed.cc): by default it binds to the
    # address the host name resolves to, and in one CI run under load the reference hung until its
    # 180 s timeout.
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    mp.spawn(run, args=(2, a.out, a.seed), nprocs=2, join=True)


if __name__ == "__main__":
    main()
