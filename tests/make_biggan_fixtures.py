#!/usr/bin/env python3
"""Builds the BigGAN-deep parity fixtures in tests/fixtures/biggan/ with the original PyTorch code.

Run from the repository root (deterministic, CPU only, ~1 minute):

    python3 tests/make_biggan_fixtures.py

Needs torch, numpy, safetensors and pytorch-pretrained-biggan 0.1.1 (the parity target).

Two random-initialised generators with tiny widths but the real key names and layer lists:

* `tiny128`: the biggan-deep-128 layer list (10 GenBlocks, attention at `layers.8`), ch = 4,
  z_dim = 8, 1000 classes. Saved as torch's legacy format (`tiny128/pytorch_model.bin`, the
  format of the published files), torch's zip format (`tiny128_zip.bin`) and safetensors
  (`tiny128.safetensors`), all the same state dict.
* `tiny256`: the biggan-deep-256 layer list (12 GenBlocks), ch = 4, z_dim = 8, 100 classes,
  legacy format only (`tiny256/pytorch_model.bin`).

Random init is not enough for a meaningful fixture (see the notes' last section): the final BN's
affine parameters are uninitialised, `gamma` starts at 0 (attention off), spectral-norm u/v are
random, and the per-truncation BN statistics are 0/1. So we set the affine parameters and gamma,
run power iterations in train mode, then fill every BN's 51 statistics rows with a "standing
statistics" pass (row k from the batch statistics at truncation k/50), then switch to eval mode.
A small per-row perturbation keeps neighbouring rows distinct enough that a port that
interpolates with the wrong (unswapped) weights, or picks the wrong row for 0.14, fails.

Outputs, in `<model>_io.safetensors`, per case `<case>/z`, `<case>/y`, `<case>/image` (the
model's output, B x 3 x H x W) and, for the traced case, every stage: `<case>/gen_z` (after the
NHWC reshape and permute), and `<case>/layers.<i>` (each GenBlock and the attention block).
`cases.json` lists the cases with their exact truncations. `cli_z.npy`, `cli_y.npy` and
`cli_pixels.npy` (`utils.convert_to_images` of the output, uint8 B x H x W x 3) feed the
`generate` CLI test. `other_model.bin` is some other network's checkpoint for the error tests.
"""

import copy
import json
import math
import os
import sys

import numpy as np
import PIL.Image  # noqa: F401  (convert_to_images uses PIL.Image without importing it)
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from pytorch_pretrained_biggan import BigGAN, BigGANConfig
from pytorch_pretrained_biggan import model as biggan_model
from pytorch_pretrained_biggan.utils import convert_to_images

# How much larger than the measured batch variance the stored variances are (see
# `fill_standing_stats`).
VAR_INFLATION = 10.0
# The most float32 PyTorch may differ from float64 PyTorch on any case: the fixture's own noise
# floor, which must stay well under the 1e-4 the Rust tests demand.
MAX_FLOAT32_NOISE = 1e-5

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "biggan")

LAYERS_128 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
              (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
LAYERS_256 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
              (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2),
              (False, 2, 2), (True, 2, 1)]


def make_config(layers, output_dim, num_classes):
    return BigGANConfig(output_dim=output_dim, z_dim=8, class_embed_dim=8, channel_width=4,
                        num_classes=num_classes, layers=layers, attention_layer_position=8,
                        eps=1e-4, n_stats=51)


def truncnorm(rng, shape):
    """Standard normal truncated to [-2, 2] by rejection (only the fixture's inputs)."""
    out = rng.standard_normal(size=shape)
    while True:
        bad = np.abs(out) > 2
        if not bad.any():
            return out.astype(np.float32)
        out[bad] = rng.standard_normal(size=int(bad.sum()))


def soft_classes(rng, batch, num_classes):
    """A soft class vector like the Director makes: a few classes with positive weights."""
    y = np.zeros((batch, num_classes), dtype=np.float32)
    for b in range(batch):
        idx = rng.choice(num_classes, size=4, replace=False)
        y[b, idx] = rng.uniform(0.1, 1.0, size=4).astype(np.float32)
    return y


def one_hot(batch, num_classes, cls):
    y = np.zeros((batch, num_classes), dtype=np.float32)
    y[:, cls] = 1.0
    return y


def fill_standing_stats(model, rng, num_samples=24):
    """Row k of every BN's statistics = the batch statistics of its input at truncation k/50."""
    bns = [m for m in model.modules() if isinstance(m, biggan_model.BigGANBatchNorm)]
    state = {"row": 0}
    original_forward = biggan_model.BigGANBatchNorm.forward

    def standing_forward(self, x, truncation, condition_vector=None):
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        k = state["row"]
        # Keep neighbouring rows clearly distinct, so the fixture tells a wrong row or
        # unswapped interpolation weights apart from the right ones.
        self.running_means[k] = mean + 0.05 * torch.randn_like(mean)
        # Variances are inflated so the normalised activations have a standard deviation
        # of about 1/VAR_INFLATION**0.5: a random network whose BNs all rescale to unit
        # variance amplifies float rounding block after block, until float32 PyTorch itself
        # is ~1e-4 away from the exact (float64) result. Inflating keeps that floor well
        # below the parity tolerance; `main` checks it.
        self.running_vars[k] = VAR_INFLATION * var * (1.0 + 0.2 * torch.rand_like(var))
        # Normalise with this row (not through `truncation`, whose row may not exist yet).
        mean, var = self.running_means[k], self.running_vars[k]
        if self.conditional:
            weight = 1 + self.scale(condition_vector)[:, :, None, None]
            bias = self.offset(condition_vector)[:, :, None, None]
            return ((x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + self.eps)
                    * weight + bias)
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0,
                            eps=self.eps)

    biggan_model.BigGANBatchNorm.forward = standing_forward
    try:
        cfg = model.config
        for k in range(cfg.n_stats):
            state["row"] = k
            t = k / (cfg.n_stats - 1)
            z = torch.from_numpy(t * truncnorm(rng, (num_samples, cfg.z_dim)))
            y = torch.from_numpy(soft_classes(rng, num_samples, cfg.num_classes))
            cond = torch.cat((z, model.embeddings(y)), dim=1)
            # Each BN writes row k from its input and normalises with it, so later layers see
            # the statistics of earlier ones, as a standing-statistics pass does.
            model.generator(cond, t)
    finally:
        biggan_model.BigGANBatchNorm.forward = original_forward
    assert len(bns) > 0


def build(layers, output_dim, num_classes, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    config = make_config(layers, output_dim, num_classes)
    model = BigGAN(config)
    with torch.no_grad():
        model.generator.bn.weight.copy_(1.0 + 0.2 * torch.randn(config.channel_width))
        model.generator.bn.bias.copy_(0.2 * torch.randn(config.channel_width))
        for m in model.modules():
            if isinstance(m, biggan_model.SelfAttn):
                m.gamma.fill_(0.8)
        # Power iterations: each train-mode forward runs one on every spectral-norm module.
        model.train()
        for _ in range(20):
            z = torch.from_numpy(truncnorm(rng, (2, config.z_dim)))
            y = torch.from_numpy(soft_classes(rng, 2, config.num_classes))
            model(z, y, 1.0)
        model.eval()
        fill_standing_stats(model, rng)
    return model, rng


def trace(model, z, y, truncation):
    """The forward pass of `BigGAN.forward`, step by step, recording every stage."""
    gen = model.generator
    stages = {}
    embed = model.embeddings(y)
    cond = torch.cat((z, embed), dim=1)
    h = gen.gen_z(cond)
    h = h.view(-1, 4, 4, 16 * gen.config.channel_width).permute(0, 3, 1, 2).contiguous()
    stages["gen_z"] = h
    for i, layer in enumerate(gen.layers):
        if isinstance(layer, biggan_model.GenBlock):
            h = layer(h, cond, truncation)
        else:
            h = layer(h)
        stages[f"layers.{i}"] = h
    h = gen.relu(gen.bn(h, truncation))
    image = torch.tanh(gen.conv_to_rgb(h)[:, :3])
    reference = model(z, y, truncation)
    assert torch.equal(image, reference), "trace differs from BigGAN.forward"
    return image, stages


def naive_bn_forward(self, x, truncation, condition_vector=None):
    """What a careless port computes: ordinary interpolation, truncation * 50 in f32."""
    pos = float(np.float32(truncation) * np.float32(50.0))
    start = int(math.floor(pos))
    coef = pos - start
    means, varis = self.running_means, self.running_vars
    if coef != 0.0:
        mean = means[start] * (1 - coef) + means[start + 1] * coef
        var = varis[start] * (1 - coef) + varis[start + 1] * coef
    else:
        mean, var = means[start], varis[start]
    if self.conditional:
        mean = mean[None, :, None, None]
        var = var[None, :, None, None]
        weight = 1 + self.scale(condition_vector)[:, :, None, None]
        bias = self.offset(condition_vector)[:, :, None, None]
        return (x - mean) / torch.sqrt(var + self.eps) * weight + bias
    return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0,
                        eps=self.eps)


def naive_difference(model, z, y, truncation):
    original = biggan_model.BigGANBatchNorm.forward
    biggan_model.BigGANBatchNorm.forward = naive_bn_forward
    try:
        naive = model(z, y, truncation)
    finally:
        biggan_model.BigGANBatchNorm.forward = original
    return (naive - model(z, y, truncation)).abs().max().item()


def float32_noise(model, z, y, truncation, image):
    """How far the float32 reference is from the same model in float64."""
    double = copy.deepcopy(model).double()
    exact = double(z.double(), y.double(), truncation)
    noise = (image.double() - exact).abs().max().item()
    assert noise < MAX_FLOAT32_NOISE, f"fixture too ill-conditioned: float32 noise {noise:.3g}"
    return noise


def same_tensors(path, state):
    """Whether `path` holds exactly the tensors of `state`."""
    if not os.path.exists(path):
        return False
    saved = torch.load(path)
    return saved.keys() == state.keys() and all(torch.equal(saved[k], v) for k, v in state.items())


def save_state_dicts(model, name, formats):
    state = model.state_dict()
    # The published checkpoints hold exactly the state dict; keep it contiguous and unshared.
    state = {k: v.detach().clone().contiguous() for k, v in state.items()}
    directory = os.path.join(OUT, name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        f.write(model.config.to_json_string())
    if "legacy" in formats:
        # The legacy format names storages by their memory addresses, so its bytes differ
        # from run to run; an existing file with the same tensors is kept as it is.
        legacy = os.path.join(directory, "pytorch_model.bin")
        if not same_tensors(legacy, state):
            torch.save(state, legacy, _use_new_zipfile_serialization=False)
    if "zip" in formats:
        torch.save(state, os.path.join(OUT, f"{name}_zip.bin"))
    if "safetensors" in formats:
        save_file(state, os.path.join(OUT, f"{name}.safetensors"))
    return state


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    cases_json = []

    with torch.no_grad():
        # ---- tiny128 -------------------------------------------------------------------
        model, rng = build(LAYERS_128, 128, 1000, seed=1234)
        state = save_state_dicts(model, "tiny128", ["legacy", "zip", "safetensors"])
        print(f"tiny128: {len(state)} tensors, {sum(v.numel() for v in state.values())} numbers")
        io = {}
        nc = model.config.num_classes
        zd = model.config.z_dim
        cases = [
            # name, truncation, class vectors, traced
            ("t0p4", 0.4, np.concatenate([one_hot(1, nc, 3), soft_classes(rng, 1, nc)]), False),
            ("t1p0", 1.0, one_hot(1, nc, 999), False),
            ("t0p75", 0.75, soft_classes(rng, 1, nc), False),
            ("t0p14", 0.14, soft_classes(rng, 1, nc), True),
            ("t0p123", 0.123, one_hot(1, nc, 517), False),
        ]
        for name, truncation, y, traced in cases:
            z = truncation * truncnorm(rng, (y.shape[0], zd))
            zt, yt = torch.from_numpy(z), torch.from_numpy(y)
            image, stages = trace(model, zt, yt, truncation)
            io[f"{name}/z"] = zt
            io[f"{name}/y"] = yt
            io[f"{name}/image"] = image
            if traced:
                for stage, value in stages.items():
                    io[f"{name}/{stage}"] = value
            naive = naive_difference(model, zt, yt, truncation)
            noise = float32_noise(model, zt, yt, truncation, image)
            print(f"  {name}: truncation {truncation!r}, batch {y.shape[0]}, image std "
                  f"{image.std().item():.3f}, |naive port - reference| max {naive:.3g}, "
                  f"|float32 - float64| max {noise:.2g}")
            cases_json.append({"model": "tiny128", "name": name, "truncation": truncation,
                               "batch": int(y.shape[0]), "traced": traced})
            if name == "t0p4":
                np.save(os.path.join(OUT, "cli_z.npy"), z)
                np.save(os.path.join(OUT, "cli_y.npy"), y)
                pixels = np.stack([np.asarray(im) for im in convert_to_images(image)])
                np.save(os.path.join(OUT, "cli_pixels.npy"), pixels)
        att = io["t0p14/layers.8"] - io["t0p14/layers.7"]
        print(f"  attention changes layers.7 by up to {att.abs().max().item():.3g}")
        save_file({k: v.contiguous() for k, v in io.items()},
                  os.path.join(OUT, "tiny128_io.safetensors"))

        # ---- tiny256 -------------------------------------------------------------------
        model, rng = build(LAYERS_256, 256, 100, seed=5678)
        state = save_state_dicts(model, "tiny256", ["legacy"])
        print(f"tiny256: {len(state)} tensors, {sum(v.numel() for v in state.values())} numbers")
        io = {}
        nc = model.config.num_classes
        name, truncation = "t0p14", 0.14
        y = soft_classes(rng, 1, nc)
        z = truncation * truncnorm(rng, (1, model.config.z_dim))
        zt, yt = torch.from_numpy(z), torch.from_numpy(y)
        image, _ = trace(model, zt, yt, truncation)
        io[f"{name}/z"], io[f"{name}/y"], io[f"{name}/image"] = zt, yt, image
        naive = naive_difference(model, zt, yt, truncation)
        noise = float32_noise(model, zt, yt, truncation, image)
        print(f"  {name}: image std {image.std().item():.3f}, |naive - reference| max {naive:.3g}, "
              f"|float32 - float64| max {noise:.2g}")
        cases_json.append({"model": "tiny256", "name": name, "truncation": truncation,
                           "batch": 1, "traced": False})
        save_file(io, os.path.join(OUT, "tiny256_io.safetensors"))

        # ---- another network's checkpoint, for the wrong-file errors ------------------------
        torch.manual_seed(99)
        other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 10))
        torch.save(other.state_dict(), os.path.join(OUT, "other_model.bin"))

    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(cases_json, f, indent=2)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(root, n))
                for root, _, names in os.walk(OUT) for n in names)
    print(f"wrote {OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    sys.exit(main())
