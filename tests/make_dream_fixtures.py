"""Reference data for tests/deepdream.rs: torchvision's GoogLeNet (InceptionV1) with seeded random
weights, its activations, input gradients and DeepDream steps on small odd-sized images.

Run from the repository root (deterministic; rewrites tests/fixtures/deepdream/):

    python3 tests/make_dream_fixtures.py

The network is torchvision 0.29's own `GoogLeNet`/`Inception`/`BasicConv2d` classes with every
channel count divided by WIDTH_DIVISOR (8), so the state-dict keys, the layer structure (branch
order, the 3x3 "5x5" branch, ceil-mode pools, BN eps 1e-3) and the file formats are exactly those
of the ImageNet checkpoint, at 1/64 of its size. The real checkpoint cannot be downloaded here
and would be 50 MB; the full-width key/shape table is written to `googlenet_full_keys.txt` from an
untrained full-width model so the Rust loader is checked against the real layout too.

Weights are He-normal (torchvision's trunc_normal(std=0.01) makes the activations vanish after a
few layers, which would make every comparison trivially pass), BN statistics random, and every
value is rounded to float16 first: the `.pth` stores them as float32 and the `.safetensors` as
float16, so both files hold the same numbers and must give identical activations.

Files written:
* googlenet_w8.pth             torch.save zip, float32, with num_batches_tracked (int64) and fc.
* googlenet_w8_f16.safetensors the same tensors, floats as float16.
* googlenet_full_keys.txt      `key<TAB>dtype<TAB>shape` of torchvision's full googlenet state
                               dict with aux heads (the layout of googlenet-1378be20.pth).
* reference.safetensors        inputs and expected outputs, float32, NCHW (see `main`).
"""

import math
import os

import numpy as np
import scipy.ndimage
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux

WIDTH_DIVISOR = 8
SEED = 20240606
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "deepdream")
LAYERS = [
    "conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a", "inception4b",
    "inception4c", "inception4d", "inception4e", "inception5a", "inception5b",
]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
PLAIN_LR = 0.05


def narrow(channels):
    return channels if channels == 3 else channels // WIDTH_DIVISOR


def conv_block(in_channels, out_channels, **kwargs):
    return BasicConv2d(narrow(in_channels), narrow(out_channels), **kwargs)


def inception_block(in_channels, *widths):
    # Inception builds its own BasicConv2d blocks from the (already narrowed) widths.
    return Inception(narrow(in_channels), *(narrow(w) for w in widths))


def build_narrow_googlenet(transform_input):
    model = GoogLeNet(
        num_classes=10,
        aux_logits=False,
        transform_input=transform_input,
        init_weights=False,
        blocks=[conv_block, inception_block, InceptionAux],
    )
    model.fc = nn.Linear(1024 // WIDTH_DIVISOR, 10)
    return model


def init_random(model, generator):
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(1.0 + 0.2 * torch.randn(c, generator=generator))
                module.bias.copy_(0.1 * torch.randn(c, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(c, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(c, generator=generator))
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.05, generator=generator)
                module.bias.zero_()
        # Both files must hold the same values: make every float exactly representable in f16.
        for tensor in list(model.parameters()) + list(model.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def activations(model, x):
    """Every named layer's output (after transform_input), in one forward pass."""
    out = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _m, _i, o, name=name: out.__setitem__(name, o)
        )
        for name in LAYERS
    ]
    model(x)
    for hook in hooks:
        hook.remove()
    return out


def objective(act, kind):
    return act.mean() if kind == "mean" else act.square().mean()


def input_gradient(model, x, layer, kind, preprocess=lambda x: x):
    x = x.clone().requires_grad_(True)
    act = activations(model, preprocess(x))[layer]
    (grad,) = torch.autograd.grad(objective(act, kind), x)
    return grad


def imagenet_normalise(x):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def plain_step(x, grad, lr):
    return (x + lr * grad / (grad.abs().mean() + 1e-8)).clamp(0.0, 1.0)


def seed_normalised(grad_nchw, step_idx, num_steps):
    """The seed's (Hvass-Labs tutorial 14) update direction for a step size of 1: the gradient
    divided by its std, blurred at three widths over all axes of the HWC array (colour included,
    scipy's default `reflect` border), summed, and divided by the sum's std."""
    g = grad_nchw[0].permute(1, 2, 0).double().numpy()
    g = g / (g.std() + 1e-8)
    sigma = step_idx * 4.0 / num_steps + 0.5
    smooth = sum(scipy.ndimage.gaussian_filter(g, sigma=s) for s in (sigma, sigma * 2, sigma * 0.5))
    update = smooth / (smooth.std() + 1e-8)
    return torch.from_numpy(update).permute(2, 0, 1).unsqueeze(0).float()


def gaussian_hwc(grad_nchw, sigma):
    g = grad_nchw[0].permute(1, 2, 0).double().numpy()
    return torch.from_numpy(scipy.ndimage.gaussian_filter(g, sigma=sigma)).permute(2, 0, 1)[None].float()


def octave_dream(model, x, layer, num_octaves, octave_scale, num_steps, lr):
    """Google's octave scheme (deepdream/dream.ipynb) with torch's bilinear resize
    (align_corners=False), no jitter, mean-|g| steps, pixels clamped to [0, 1] after each step."""
    h, w = x.shape[-2:]
    sizes = [
        (max(1, round(h / octave_scale**k)), max(1, round(w / octave_scale**k)))
        for k in range(num_octaves)
    ][::-1]
    resize = lambda t, size: F.interpolate(t, size=size, mode="bilinear", align_corners=False)
    detail = torch.zeros(1, 3, *sizes[0])
    for size in sizes:
        base = x if size == (h, w) else resize(x, size)
        if detail.shape[-2:] != size:
            detail = resize(detail, size)
        img = (base + detail).clamp(0.0, 1.0)
        for _ in range(num_steps):
            img = plain_step(img, input_gradient(model, img, layer, "mean"), lr)
        detail = img - base
    return img


def zoom_rotate(x, zoom, rotation_deg):
    """The flowing mode's move: zoom about the centre and turn counter-clockwise on screen, by
    torch's affine_grid/grid_sample (bilinear, border padding, align_corners=False). The grid is
    in [-1, 1] units per axis, hence the aspect-ratio factors on the rotation's off-diagonal."""
    h, w = x.shape[-2:]
    c, s = math.cos(math.radians(rotation_deg)), math.sin(math.radians(rotation_deg))
    theta = torch.tensor(
        [[[c / zoom, -s * h / (w * zoom), 0.0], [s * w / (h * zoom), c / zoom, 0.0]]],
        dtype=torch.float32,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def full_key_table():
    model = GoogLeNet(aux_logits=True, init_weights=False)
    lines = []
    for key, tensor in model.state_dict().items():
        lines.append(f"{key}\t{str(tensor.dtype).removeprefix('torch.')}\t{list(tensor.shape)}")
    return "\n".join(lines) + "\n"


def main():
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    generator = torch.Generator().manual_seed(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)

    model = build_narrow_googlenet(transform_input=False)
    init_random(model, generator)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    state = model.state_dict()
    torch.save(state, os.path.join(OUT_DIR, "googlenet_w8.pth"))
    save_file(
        {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()},
        os.path.join(OUT_DIR, "googlenet_w8_f16.safetensors"),
    )
    with open(os.path.join(OUT_DIR, "googlenet_full_keys.txt"), "w") as f:
        f.write(full_key_table())

    pretrained_like = build_narrow_googlenet(transform_input=True)
    pretrained_like.load_state_dict(state)
    pretrained_like.eval()

    ref = {}
    x = torch.rand(1, 3, 37, 45, generator=generator)
    ref["x37x45"] = x
    with torch.no_grad():
        for name, act in activations(model, x).items():
            ref[f"act.{name}"] = act
            print(f"{name:12s} {list(act.shape)} std {act.std():.4f} max {act.max():.4f}")
    # Smallest side torchvision allows (meta min_size 15): every ceil-mode pool sees a window
    # hanging over the edge.
    x_small = torch.rand(1, 3, 15, 17, generator=generator)
    ref["x15x17"] = x_small
    with torch.no_grad():
        small = activations(model, x_small)
    for name in ("conv1", "inception3b", "inception4e", "inception5b"):
        ref[f"small.act.{name}"] = small[name]

    for layer, kind in [
        ("inception4c", "mean"),
        ("inception3b", "l2"),
        ("conv1", "l2"),
        ("inception5b", "mean"),
    ]:
        g = input_gradient(model, x, layer, kind)
        ref[f"grad.{kind}.{layer}"] = g
        print(f"grad {kind} {layer}: mean|g| {g.abs().mean():.3e}")
    ref["grad.l2.inception5b.small"] = input_gradient(model, x_small, "inception5b", "l2")

    # The pretrained checkpoint's convention: pixels in [0, 1] are ImageNet-normalised, then
    # transform_input (set by torchvision for those weights) maps them on.
    with torch.no_grad():
        ref["pretrained.act.inception4c"] = activations(pretrained_like, imagenet_normalise(x))[
            "inception4c"
        ]
    ref["pretrained.grad.mean.inception4c"] = input_gradient(
        pretrained_like, x, "inception4c", "mean", imagenet_normalise
    )

    g = ref["grad.mean.inception4c"]
    ref["step.plain.inception4c"] = plain_step(x, g, PLAIN_LR)
    for sigma in (0.5, 2.0, 9.0):
        ref[f"blur.sigma{sigma}"] = gaussian_hwc(g, sigma)
    for step_idx, num_steps in ((0, 10), (7, 10)):
        ref[f"seednorm.i{step_idx}n{num_steps}"] = seed_normalised(g, step_idx, num_steps)
    ref["warp.zoom1.1.rot10"] = zoom_rotate(x, 1.1, 10.0)
    ref["dream.octaves2.steps3"] = octave_dream(model, x, "inception4c", 2, 1.4, 3, PLAIN_LR)

    save_file(
        {k: v.detach().float().contiguous() for k, v in ref.items()},
        os.path.join(OUT_DIR, "reference.safetensors"),
    )
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR))
    print(f"wrote {OUT_DIR} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
