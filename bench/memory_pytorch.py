#!/usr/bin/env python3
"""Peak memory of BigGAN-deep in PyTorch, the reference for `bench/memory.sh`.

    python3 bench/memory_pytorch.py --make-weights DIR --resolution 256
        # a random biggan-deep-256 (the real configuration; two power iterations give the
        # spectral norms sane sigmas) as DIR/config.json + DIR/pytorch_model.bin, which both
        # `deep-visualizer render --weights DIR` and this script load
    python3 bench/memory_pytorch.py --weights DIR --frames 8 --batch 8 [--threads 2]
        # loads it as pytorch_pretrained_biggan does and draws the frames; prints the peak
        # resident set size

Only the model's part of a render (load + generate), so PyTorch's figure leaves out the audio,
the Director and the encoder that ours includes.
"""

import argparse
import json
import os
import resource
import time

import numpy as np
import torch

from biggan_pytorch import BigGAN, BigGANConfig, random_biggan


def make_weights(out_dir, resolution):
    model = random_biggan(resolution)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(model.config.to_dict(), f)
    torch.save(model.state_dict(), os.path.join(out_dir, "pytorch_model.bin"))


def generate(weights, frames, batch):
    with open(os.path.join(weights, "config.json")) as f:
        config = BigGANConfig.from_dict(json.load(f))
    model = BigGAN(config)
    model.load_state_dict(torch.load(os.path.join(weights, "pytorch_model.bin"),
                                     map_location="cpu", weights_only=True))
    model.eval()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    with torch.no_grad():
        for first in range(0, frames, batch):
            n = min(batch, frames - first)
            z = torch.from_numpy((0.4 * np.clip(rng.standard_normal((n, 128)), -2, 2))
                                 .astype(np.float32))
            y = torch.zeros(n, 1000)
            y[torch.arange(n), (torch.arange(n) * 97) % 1000] = 1.0
            model(z, y, 0.4)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch biggan-deep-{config.output_dim}: {frames} frames at batch {batch} in "
          f"{time.perf_counter() - started:.1f} s; peak RSS {peak_mb:.0f} MB")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--make-weights")
    parser.add_argument("--resolution", type=int, default=128, choices=[128, 256, 512])
    parser.add_argument("--weights")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.make_weights:
        make_weights(args.make_weights, args.resolution)
    else:
        generate(args.weights, args.frames, args.batch)


if __name__ == "__main__":
    main()
