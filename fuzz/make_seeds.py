#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora under fuzz/corpus/ (standard library only, plus ffmpeg for
the compressed audio formats). Seeds are small valid files of each format each target reads;
libFuzzer mutates from them. Run from the repository root: python3 fuzz/make_seeds.py"""

import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import types

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- audio
# The target's first byte picks the extension, in this order.
EXTENSIONS = ["wav", "mp3", "flac", "ogg", "m4a", "aac", "aiff", "bin"]


def pcm16_wav(rate, channels, frames):
    data = b"".join(struct.pack("<h", (i * 997) % 20000 - 10000) for i in range(frames * channels))
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


wav = pcm16_wav(8000, 1, 400)
put("decode_audio", "wav_8k_mono", bytes([0]) + wav)
put("decode_audio", "wav_44k_stereo", bytes([0]) + pcm16_wav(44100, 2, 300))
put("decode_audio", "wav_as_bin", bytes([7]) + wav)
codecs = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "32k"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis"],
    "m4a": ["-c:a", "aac", "-b:a", "32k"],
    "aac": ["-c:a", "aac", "-b:a", "32k", "-f", "adts"],
    "aiff": ["-c:a", "pcm_s16be", "-f", "aiff"],
}
for ext, args in codecs.items():
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=0.1",
         *args, "-y", f"/tmp/seed.{ext}"],
        check=True)
    with open(f"/tmp/seed.{ext}", "rb") as f:
        put("decode_audio", ext, bytes([EXTENSIONS.index(ext)]) + f.read())
    os.remove(f"/tmp/seed.{ext}")


# ---------------------------------------------------------------- checkpoints
def safetensors(tensors):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


floats = lambda n: struct.pack(f"<{n}f", *[i * 0.25 - 1 for i in range(n)])
put("checkpoint", "safetensors", safetensors({
    "conv.weight": ("F32", [2, 1, 2, 2], floats(8)),
    "conv.bias": ("F16", [2], struct.pack("<2e", 0.5, -0.5)),
    "embed": ("BF16", [1, 2], b"\x80\x3f\x00\x40"),
}))
fixtures = os.path.join(os.path.dirname(ROOT), "..", "tests", "fixtures")
with open(os.path.join(fixtures, "biggan", "other_model.bin"), "rb") as f:
    put("checkpoint", "torch_zip", f.read())


def legacy_torch(tensors):
    """A pre-1.6 `torch.save` file, written with pickle and stand-in `torch` globals."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise NotImplementedError

    FloatStorage.__module__ = "torch"
    FloatStorage.__qualname__ = FloatStorage.__name__ = "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2, torch._utils = FloatStorage, _rebuild_tensor_v2, utils
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils

    class Storage:
        def __init__(self, key, n):
            self.pid = ("storage", FloatStorage, key, "cpu", n, None)

    class Tensor:
        def __init__(self, key, shape):
            n = 1
            for d in shape:
                n *= d
            stride, s = [], 1
            for d in reversed(shape):
                stride.insert(0, s)
                s *= d
            self.args = (Storage(key, n), 0, tuple(shape), tuple(stride), False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return obj.pid if isinstance(obj, Storage) else None

    out = io.BytesIO()
    pickle.dump(0x1950A86A20F9469CFC6C, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": True,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    state = collections.OrderedDict((name, Tensor(str(i), shape)) for i, (name, shape) in enumerate(tensors.items()))
    Pickler(out, protocol=2).dump(state)
    keys = [str(i) for i in range(len(tensors))]
    pickle.dump(keys, out, protocol=2)
    for shape in tensors.values():
        n = 1
        for d in shape:
            n *= d
        out.write(struct.pack("<q", n) + floats(n))
    return out.getvalue()


put("checkpoint", "torch_legacy", legacy_torch({"conv.weight": [2, 1, 2, 2], "conv.bias": [2]}))


# ---------------------------------------------------------------- npy
def npy(descr, shape, data):
    dict_text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header = dict_text.encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


put("npy", "f4_rows", npy("<f4", (3, 4), floats(12)))
put("npy", "f8_vector", npy("<f8", (5,), struct.pack("<5d", 1, 2, 3, 4, 5)))
put("npy", "f4_scalar", npy("<f4", (), floats(1)))

# ---------------------------------------------------------------- plugin state
session = {"version": 2, "classes": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "seed": 7,
           "dream_image_path": None, "output_dir": "/tmp/takes", "editor_size": [960, 640]}
state = {
    "version": "0.1.0",
    "params": {"depth": {"F32": 0.5}, "engine": {"String": "deepdream"}, "resolution": {"String": "256"},
               "fps": {"String": "30"}, "octaves": {"I32": 3}, "record": {"Bool": False},
               "dream_layer": {"String": "conv3"}, "smoothing": {"I32": 20}},
    "fields": {"session": json.dumps(session)},
}
put("plugin_state", "state_v2", json.dumps(state).encode())
old = dict(state, fields={"session": json.dumps({"version": 0, "classes": [5000] * 12, "seed": 1})})
put("plugin_state", "state_v0", json.dumps(old).encode())

# ---------------------------------------------------------------- pictures
for ext, args in {"png": [], "jpg": ["-q:v", "5"]}.items():
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=16x12:rate=1",
                    "-frames:v", "1", *args, "-y", f"/tmp/seed.{ext}"], check=True)
    with open(f"/tmp/seed.{ext}", "rb") as f:
        put("picture", ext, f.read())
    os.remove(f"/tmp/seed.{ext}")

# ---------------------------------------------------------------- takes
manifest = {
    "format": "deep-visualizer-take", "version": 1, "program_version": "0.1.0",
    "sample_rate_hz": 8000, "num_channels": 2, "complete": True, "num_lost_frames": 0, "num_frames": 8,
    "settings": {"version": 1, "engine": "biggan", "resolution_px": 128, "fps": None, "classes": None, "seed": 0,
                 "biggan": {"pitch_sensitivity": 50.0, "tempo_sensitivity": 0.2, "depth": 1.0, "num_classes": 12,
                            "sort_classes_by_power": False, "jitter": 0.5, "truncation": 1.0, "smooth_factor": 10},
                 "dream": {"layer": "inception4c", "octaves": 4, "octave_scale": 1.4, "max_depth": 20,
                           "step_size": 0.011764706, "kick_decay": 0.93, "mode": "static", "zoom": 1.02,
                           "rotation_deg": 0.0, "image": None, "picture_size": "resolution"},
                 "analysis": {"kick_low_hz": 20.0, "kick_high_hz": 120.0, "kick_input": "main",
                              "tonal_input": "main"}},
}
take_json = json.dumps(manifest).encode()
blocks_path = os.environ.get("SEED_TAKE_BLOCKS")
if blocks_path:
    # The first two blocks of a take the plugin recorded (real checksums); see fuzz/README.md.
    with open(blocks_path, "rb") as f:
        first = f.read(24)
        frames = struct.unpack("<I", first[4:8])[0]
        block = first + f.read(frames * 2 * 4)
    manifest["sample_rate_hz"], manifest["num_frames"] = 48000, frames
    take_json = json.dumps(manifest).encode()
    put("take", "recorded_block", struct.pack("<H", len(take_json)) + take_json + block)
put("take", "manifest_only", struct.pack("<H", len(take_json)) + take_json)
print("seeds written under", ROOT)
