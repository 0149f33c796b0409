"""PyTorch reference for benches/deepdream.rs: seconds per DeepDream gradient step of torchvision's
full-width GoogLeNet on the CPU (or `--device cuda`), objective mean(inception4c), plain
mean-|g| step.

    python3 bench/deepdream_pytorch.py [--threads 2] [--sizes 224 512] [--device cpu|cuda]

Weights are random (the ImageNet checkpoint is not available here; timing does not depend on
the values). The network is run only up to inception4c, as the Rust engine does.
"""

import argparse
import statistics
import time

import torch
import torchvision

LAYERS = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
          "maxpool3", "inception4a", "inception4b", "inception4c"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)

    def step(x):
        x = x.detach().requires_grad_(True)
        act = x
        for name in LAYERS:
            act = getattr(model, name)(act)
        (grad,) = torch.autograd.grad(act.mean(), x)
        return (x + 0.05 * grad / (grad.abs().mean() + 1e-8)).clamp(0, 1).detach()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}")
    for size in args.sizes:
        x = torch.rand(1, 3, size, size, device=device)
        for _ in range(2):
            x = step(x)
        sync()
        times, cpu_times = [], []
        for _ in range(args.steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            x = step(x)
            sync()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        print(f"pytorch {size}x{size}: {statistics.median(times):.4f} s/step "
              f"(median of {args.steps}, min {min(times):.4f}); "
              f"cpu {statistics.median(cpu_times):.4f} s/step")


if __name__ == "__main__":
    main()
