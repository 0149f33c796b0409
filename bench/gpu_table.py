#!/usr/bin/env python3
"""One table from `bench/gpu.sh`'s logs: our models through wgpu against PyTorch on CUDA.

    python3 gpu_table.py ours.log pytorch.log

Reads the lines the benches print ("biggan-deep-512, ..." then "burn wgpu batch 1: 0.012
s/image ..."; "pytorch batch 1: ..."; "burn wgpu mean-|g| step 224x224: ..."; "pytorch
224x224: ...") and prints, per model and size, seconds per image or step, images per second
and the ratio ours / PyTorch's (below 1: ours is faster).
"""

import re
import sys

HEADER = re.compile(r"biggan-deep-(\d+)")
BIGGAN = re.compile(r"^(?:burn wgpu|pytorch) batch (\d+): ([\d.]+) s/image")
DREAM = re.compile(r"^(?:burn wgpu mean-\|g\| step|pytorch) (\d+)x\d+: ([\d.]+) s/step")


def read(path):
    """{(model, size, batch): seconds} from one log."""
    found, resolution = {}, None
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.strip()
            header = HEADER.search(line)
            if header:
                resolution = int(header.group(1))
            match = BIGGAN.match(line)
            if match and resolution:
                found[("BigGAN-deep", resolution, int(match.group(1)))] = float(match.group(2))
            match = DREAM.match(line)
            if match:
                found[("DeepDream step", int(match.group(1)), 1)] = float(match.group(2))
    return found


def adapters(path):
    """The wgpu adapters our benches ran on, as they printed them."""
    with open(path, encoding="utf-8", errors="replace") as log:
        return sorted({line.strip().split(": model built")[0] for line in log
                       if line.startswith("GPU (wgpu")})


def main():
    ours, theirs = read(sys.argv[1]), read(sys.argv[2])
    for adapter in adapters(sys.argv[1]):
        print(f"ours ran on: {adapter}")
        if "(software)" in adapter:
            print("WARNING: a software adapter, not the GPU: install the NVIDIA Vulkan driver "
                  "(libnvidia-gl / the driver's Vulkan ICD) and run again")
    print("| model | size | batch | ours, wgpu (s/image) | PyTorch, CUDA (s/image) | ours, images/s "
          "| ratio (PyTorch = 1) |")
    print("|---|---|---|---|---|---|---|")
    for key in sorted(ours.keys() | theirs.keys()):
        model, size, batch = key
        a, b = ours.get(key), theirs.get(key)
        cell = lambda v: f"{v:.4f}" if v is not None else "—"
        rate = f"{1 / a:.1f}" if a else "—"
        ratio = f"{a / b:.2f}×" if a and b else "—"
        print(f"| {model} | {size} | {batch} | {cell(a)} | {cell(b)} | {rate} | {ratio} |")
    goal = ours.get(("BigGAN-deep", 512, 1))
    if goal:
        print(f"\nBigGAN-deep-512 at batch 1: {1 / goal:.1f} images/s through wgpu "
              f"(goal: 60 for a live 60 fps preview).")


if __name__ == "__main__":
    main()
