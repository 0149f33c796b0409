#!/usr/bin/env python3
"""Reference for `cargo bench --bench render`: the seed's render stages (deep_visualizer.py) on
the same song, in seconds per second of audio at 128 px.

    python3 bench/render_reference.py [--seconds 20] [--model-frames 16]
        [--batch 8] [--threads 2]

Stages, as the seed runs them:
- decode + analysis: `librosa.load` (resampling to 22.05 kHz mono), the mel spectrogram and its
  gradient, `chroma_cqt` and its gradient, the pitch ranking;
- director: the seed's per-frame loop for the noise and class vectors, then `smooth`;
- model: biggan-deep-128 from `pytorch_pretrained_biggan` 0.1.1 with random weights, no_grad,
  eval mode, scaled from a few batches to a second of video;
- encode: the frames as raw RGB through ffmpeg's libx264 (yuv420p) with the song as AAC, as
  moviepy's `write_videofile(..., audio_codec='aac')` does (moviepy itself is not installed
  here; it drives the same ffmpeg).

The song is the one the Rust bench writes (44.1 kHz stereo chords and kicks). Run this right
before or after the Rust bench on the same machine.
"""

import argparse
import os
import random
import resource
import subprocess
import tempfile
import time

import librosa
import numpy as np
import torch
from pytorch_pretrained_biggan import truncated_noise_sample

from biggan_pytorch import random_biggan

FPS = 22050 / 512


def cpu_seconds():
    """CPU time of this process and its waited-for children (ffmpeg)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(f):
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = f()
    return out, time.perf_counter() - wall, cpu_seconds() - cpu


def write_song(path, seconds):
    """The Rust bench's song: 44.1 kHz stereo 16-bit, chords every 2 s, a kick every 0.5 s."""
    rate = 44100
    chords = [[220.0, 261.63, 329.63], [174.61, 220.0, 261.63], [261.63, 329.63, 392.0],
              [196.0, 246.94, 293.66]]
    t = np.arange(seconds * rate) / rate
    chord = np.array(chords)[(t / 2.0).astype(int) % 4]
    swell = 0.5 + 0.5 * np.abs(np.sin(t * 2 * np.pi / 7.0))
    tonal = np.sin(t[:, None] * chord * 2 * np.pi).sum(axis=1) * 0.12 * swell
    since = t % 0.5
    kick = 0.5 * np.exp(-since * 18.0) * np.sin(since * 55.0 * 2 * np.pi)
    stereo = np.stack([tonal + kick, 0.8 * tonal + kick], axis=1)
    pcm = (np.clip(stereo, -1, 1) * 32767).astype("<i2")
    import wave
    with wave.open(path, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def analyse(song):
    y, sr = librosa.load(song)
    spec = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128, fmax=8000, hop_length=512)
    specm = np.mean(spec, axis=0)
    gradm = np.gradient(specm)
    gradm = (gradm / np.max(gradm)).clip(min=0)
    specm = (specm - np.min(specm)) / np.ptp(specm)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=512)
    chromagrad = np.gradient(chroma)[1]
    chromasort = np.argsort(np.mean(chroma, axis=1))[::-1]
    return specm, gradm, chroma, chromagrad, chromasort


def direct(specm, gradm, chroma, chromagrad, chromasort):
    """The seed's vector loop and smoothing, verbatim in its arithmetic."""
    random.seed(0)
    truncation, tempo_sensitivity, pitch_sensitivity, jitter = 1.0, 0.2, 50, 0.5
    num_classes, smooth_factor = 12, 10
    cls1000 = list(range(1000))
    random.shuffle(cls1000)
    classes = cls1000[:12]
    cv1 = np.zeros(1000)
    for p in chromasort[:num_classes]:
        cv1[classes[p]] = chroma[p][0]
    nv1 = truncated_noise_sample(truncation=truncation)[0]
    class_vectors, noise_vectors = [cv1], [nv1]
    cvlast, nvlast = cv1, nv1
    update_dir = np.where(nv1 < 0, 1.0, -1.0)
    update_last = np.zeros(128)
    jitters = None
    for i in range(len(gradm)):
        if i % 100 == 0:
            jitters = np.array([1 if random.uniform(0, 1) < 0.5 else 1 - jitter
                                for _ in range(128)])
        update = np.array([tempo_sensitivity for _ in range(128)]) * (gradm[i] + specm[i]) \
            * update_dir * jitters
        update = (update + update_last * 3) / 4
        update_last = update
        nv2 = nvlast + update
        noise_vectors.append(nv2)
        nvlast = nv2
        for ni, n in enumerate(nv2):
            if n >= 2 * truncation - tempo_sensitivity:
                update_dir[ni] = -1
            elif n < -2 * truncation + tempo_sensitivity:
                update_dir[ni] = 1
        cv2 = np.zeros(1000)
        for j in range(num_classes):
            c = classes[chromasort[j]]
            cv2[c] = (cvlast[c] + (chroma[chromasort[j]][i] + chromagrad[chromasort[j]][i])
                      / pitch_sensitivity) / (1 + (1 / (pitch_sensitivity / 2)))
        min_class_val = min(v for v in cv2 if v != 0)
        for ci, c in enumerate(cv2):
            if c == 0:
                cv2[ci] = min_class_val
        cv2 = (cv2 - min_class_val) / np.ptp(cv2)
        class_vectors.append(cv2)
        cvlast = cv2
    terp = []
    for c in range(int(np.floor(len(class_vectors) / smooth_factor) - 1)):
        ci = c * smooth_factor
        cva = np.mean(class_vectors[ci:ci + smooth_factor], axis=0)
        cvb = np.mean(class_vectors[ci + smooth_factor:ci + smooth_factor * 2], axis=0)
        for j in range(smooth_factor):
            terp.append(cva * (1 - j / (smooth_factor - 1)) + cvb * (j / (smooth_factor - 1)))
    return np.array(noise_vectors), np.array(terp)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--model-frames", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        song = os.path.join(tmp, "song.wav")
        write_song(song, args.seconds)
        per_s = lambda x: x / args.seconds
        print(f"render reference: {args.seconds} s song, {FPS:.2f} fps, 128 px, batch "
              f"{args.batch}, torch {torch.__version__} on {torch.get_num_threads()} threads")

        features, wall, cpu = timed(lambda: analyse(song))
        rows.append(("decode + analysis (librosa)", per_s(wall), per_s(cpu)))
        _, wall, cpu = timed(lambda: direct(*features))
        rows.append(("director (seed loop)", per_s(wall), per_s(cpu)))

        model = random_biggan(128)
        rng = np.random.default_rng(0)

        def draw(n):
            z = torch.from_numpy(np.clip(rng.standard_normal((n, 128)), -2, 2)
                                 .astype(np.float32))
            y = torch.zeros(n, 1000)
            y[torch.arange(n), (torch.arange(n) * 97) % 1000] = 1.0
            with torch.no_grad():
                out = model(z, y, 1.0).numpy()
            return [np.clip((o.transpose(1, 2, 0) + 1) / 2 * 256, 0, 255).astype(np.uint8)
                    for o in out]

        draw(1)
        num_batches = -(-args.model_frames // args.batch)
        images, wall, cpu = timed(lambda: [im for _ in range(num_batches)
                                           for im in draw(args.batch)])
        model_row = ("model (PyTorch)", wall / len(images) * FPS, cpu / len(images) * FPS)
        rows.append(model_row)

        num_frames = round(args.seconds * FPS)

        def encode():
            out = os.path.join(tmp, "out.mp4")
            cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                   "-s", "128x128", "-framerate", "22050/512", "-i", "-", "-i", song,
                   "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "medium",
                   "-pix_fmt", "yuv420p", "-c:a", "aac", out]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
            for k in range(num_frames):
                proc.stdin.write(images[k % len(images)].tobytes())
            proc.stdin.close()
            assert proc.wait() == 0

        _, wall, cpu = timed(encode)
        rows.append(("encode (ffmpeg, incl. its CPU)", per_s(wall), per_s(cpu)))

    print(f"{'stage':34} {'wall s/s audio':>14} {'cpu s/s audio':>14}")
    for name, wall, cpu in rows:
        print(f"{name:34} {wall:14.3f} {cpu:14.3f}")
    around_wall = sum(r[1] for r in rows if r is not model_row)
    around_cpu = sum(r[2] for r in rows if r is not model_row)
    print(f"pipeline around the model: {100 * around_wall / model_row[1]:.1f} % of the model's "
          f"wall time, {100 * around_cpu / model_row[2]:.1f} % of its CPU time")


if __name__ == "__main__":
    main()
