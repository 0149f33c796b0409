#!/usr/bin/env python3
"""Peak resident memory of `deep-visualizer render` at 128, 256 and 512 px, next to PyTorch's
for the same model drawing the same frames.

    cargo bench --no-run --bench biggan   # also builds target/release/deep-visualizer
    python3 bench/memory.py [--frames 8] [--batch 8] [--resolutions 128 256 512]

Both sides load the same random BigGAN-deep checkpoint (written once into target/bench-weights/
by `bench/memory_pytorch.py --make-weights`; the real configuration and file size). Ours renders
a song of exactly `--frames` frames to an MP4 on the CPU; PyTorch loads the checkpoint and draws
the frames (model only). The peak of each process comes from the kernel (`wait4`'s ru_maxrss,
which covers the process and the children it waited for: our ffmpeg encoder).
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FPS = 22050 / 512


def peak_mb(command, env=None):
    """Runs `command`; returns (peak RSS in MB, its output)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                 env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        out.seek(0)
        text = out.read()
    if status != 0:
        sys.exit(f"{command[0]} failed ({status}):\n{text}")
    return usage.ru_maxrss / 1024, text


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 256, 512])
    args = parser.parse_args()
    binary = os.path.join(ROOT, "target", "release", "deep-visualizer")
    if not os.access(binary, os.X_OK):
        sys.exit("build it first: cargo bench --no-run --bench biggan")
    work = tempfile.mkdtemp()
    song = os.path.join(work, "song.wav")
    # Long enough for the frames; render cuts it with --duration.
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=220:duration=5", "-ac", "2", "-ar", "44100", song], check=True)
    rows = []
    for resolution in args.resolutions:
        weights = os.path.join(ROOT, "target", "bench-weights", f"biggan-deep-{resolution}")
        if not os.path.exists(os.path.join(weights, "pytorch_model.bin")):
            subprocess.run([sys.executable, os.path.join(HERE, "memory_pytorch.py"),
                            "--make-weights", weights, "--resolution", str(resolution)],
                           check=True)
        ours, _ = peak_mb([binary, "render", "--song", song, "--weights", weights, "--resolution",
                           str(resolution), "--duration", f"{(args.frames - 0.5) / FPS:.4f}",
                           "--batch_size", str(args.batch), "--device", "cpu", "--out",
                           os.path.join(work, f"out{resolution}.mp4")])
        theirs, text = peak_mb([sys.executable, os.path.join(HERE, "memory_pytorch.py"),
                                "--weights", weights, "--frames", str(args.frames), "--batch",
                                str(args.batch)])
        print(f"{resolution} px: ours {ours:.0f} MB, PyTorch {theirs:.0f} MB "
              f"({text.strip().splitlines()[-1]})", flush=True)
        rows.append((resolution, ours, theirs))
    print(f"\n| peak RSS, {args.frames} frames at batch {args.batch} | ours (`render`, CPU) "
          "| PyTorch (model only) | ratio |")
    print("|---|---|---|---|")
    for resolution, ours, theirs in rows:
        print(f"| {resolution} px | {ours:.0f} MB | {theirs:.0f} MB | {ours / theirs:.2f}× |")


if __name__ == "__main__":
    main()
