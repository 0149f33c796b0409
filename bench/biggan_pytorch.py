#!/usr/bin/env python3
"""PyTorch reference for `cargo bench --bench biggan`: seconds per image of biggan-deep-128
(`pytorch_pretrained_biggan` 0.1.1, random weights, eval mode, no_grad) at batch 1 and 8, on
the CPU or `--device cuda`.

    python3 bench/biggan_pytorch.py [--threads 2] [--runs 5] [--resolution 128] [--device cpu]

Run it right before or after the Rust bench on the same machine.
"""

import argparse
import importlib
import os
import sys
import time
import types

import numpy as np
import torch


def biggan_classes():
    """`BigGAN` and `BigGANConfig` from pytorch_pretrained_biggan. Where only the package's
    files are at hand (`bench/gpu.sh` carries them in `$BIGGAN_PACKAGE_DIR`, without the
    download helpers' boto3, requests and scipy), its model modules are loaded on their own."""
    package_dir = os.environ.get("BIGGAN_PACKAGE_DIR")
    if not package_dir:
        from pytorch_pretrained_biggan import BigGAN, BigGANConfig
        return BigGAN, BigGANConfig
    package = types.ModuleType("pytorch_pretrained_biggan")
    package.__path__ = [package_dir]
    sys.modules["pytorch_pretrained_biggan"] = package
    # model.py imports cached_path for downloading checkpoints, which a random model never uses.
    file_utils = types.ModuleType("pytorch_pretrained_biggan.file_utils")
    file_utils.cached_path = None
    sys.modules["pytorch_pretrained_biggan.file_utils"] = file_utils
    model = importlib.import_module("pytorch_pretrained_biggan.model")
    return model.BigGAN, model.BigGANConfig


BigGAN, BigGANConfig = biggan_classes()

LAYERS = {
    128: [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
          (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)],
    256: [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
          (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2),
          (False, 2, 2), (True, 2, 1)],
}
LAYERS[512] = LAYERS[256] + [(False, 1, 1), (True, 1, 1)]


def random_biggan(resolution, device="cpu"):
    """A biggan-deep of the real configuration with random weights (seed 0), in eval mode."""
    torch.manual_seed(0)
    config = BigGANConfig(output_dim=resolution, layers=LAYERS[resolution])
    model = BigGAN(config).to(device)
    with torch.no_grad():
        model.generator.bn.weight.fill_(1.0)
        model.generator.bn.bias.zero_()
        # Two power iterations (train-mode forwards) give the spectral norms sane sigmas, so
        # activations stay finite and normal (no denormals or NaNs that could skew timings).
        model.train()
        for _ in range(2):
            model(torch.zeros(1, 128, device=device), torch.zeros(1, 1000, device=device), 1.0)
    return model.eval()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resolution", type=int, default=128, choices=[128, 256, 512])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    device = torch.device(args.device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    torch.set_num_threads(args.threads)
    model = random_biggan(args.resolution, device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"biggan-deep-{args.resolution}, random weights, {device}")
    rng = np.random.default_rng(0)
    for batch in args.batches:
        z = torch.from_numpy((0.4 * np.clip(rng.standard_normal((batch, 128)), -2, 2))
                             .astype(np.float32)).to(device)
        y = torch.zeros(batch, 1000)
        y[torch.arange(batch), (torch.arange(batch) * 97) % 1000] = 1.0
        y = y.to(device)
        runs = args.runs if batch == 1 else max(1, (args.runs + 1) // 2)
        with torch.no_grad():
            started = time.perf_counter()
            model(z, y, 0.4)
            sync()
            warmup = (time.perf_counter() - started) / batch
            times, cpu_times = [], []
            for _ in range(runs):
                started, cpu_started = time.perf_counter(), time.process_time()
                model(z, y, 0.4)
                sync()
                times.append((time.perf_counter() - started) / batch)
                cpu_times.append((time.process_time() - cpu_started) / batch)
        times.sort()
        cpu_times.sort()
        # CPU time shows the work done on a shared machine, where wall time also shows waiting.
        print(f"pytorch batch {batch}: {times[len(times) // 2]:.3f} s/image median of {runs} "
              f"(min {times[0]:.3f}, max {times[-1]:.3f}; warm-up {warmup:.3f} s/image); "
              f"cpu {cpu_times[len(cpu_times) // 2]:.3f} s/image")


if __name__ == "__main__":
    main()
