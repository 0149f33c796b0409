#!/usr/bin/env python3
"""Times librosa computing the Analyzer's features, for the ratio against `benches/analysis.rs`.

Run on the same machine, right before or after the Rust bench:

    python3 bench/librosa_features.py [--seconds 30] [--repeats 5]

The signal is the bench's (48 kHz stereo: a C-major chord, a 55/82.5 Hz bass, noise), made
`--seconds` long. Two pipelines are timed in process CPU time (all threads, so a multi-threaded
BLAS is not flattered), both reported per second of audio (best of `--repeats`):

* `seed`: what the seed does with a song, plus the kick and onset: mono mix, soxr_hq resampling
  to 22.05 kHz, `melspectrogram(n_mels=128, fmax=8000, hop 512)`, its mean, `chroma_cqt(hop 512)`
  (with its tuning estimate), the 20-120 Hz band of `|stft(n_fft=2048)|**2`, and
  `onset_strength` on the log-mel spectrogram.
* `native`: the same at 48 kHz without resampling (hop 1115, n_fft 4460, `chroma_cqt` at 48 kHz,
  tuning fixed at 0 like the Analyzer).
"""

import argparse
import time
import warnings

import librosa
import numpy as np


def signal(seconds, sr=48000):
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(1)
    chord = 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0))
    bass = 0.4 * np.sin(2 * np.pi * 55.0 * np.where((t % 1.0) < 0.5, 1.0, 1.5) * t)
    left = chord + bass + 0.05 * rng.uniform(-1, 1, t.size)
    right = chord - bass + 0.05 * rng.uniform(-1, 1, t.size)
    return np.stack([left, right]).astype(np.float32), sr


def features(y, sr, hop, n_fft, tuning):
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=128,
                                         fmax=8000)
    power = mel.mean(axis=0)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=hop, tuning=tuning)
    spec = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    kick = spec[(freqs >= 20) & (freqs <= 120)].sum(axis=0)
    onset = librosa.onset.onset_strength(S=librosa.power_to_db(mel), sr=sr, hop_length=hop)
    return power, chroma, kick, onset


def seed_pipeline(stereo, sr):
    y = librosa.to_mono(stereo)
    y = librosa.resample(y, orig_sr=sr, target_sr=22050, res_type="soxr_hq")
    return features(y, 22050, 512, 2048, None)


def native_pipeline(stereo, sr):
    y = librosa.to_mono(stereo)
    hop = int(round(sr / (22050 / 512)))
    return features(y, sr, hop, 4 * hop, 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    stereo, sr = signal(args.seconds)
    for name, pipeline in [("seed", seed_pipeline), ("native", native_pipeline)]:
        pipeline(stereo[:, : sr * 2], sr)  # warm caches (filter banks, numba)
        best = float("inf")
        for _ in range(args.repeats):
            start = time.process_time()
            pipeline(stereo, sr)
            best = min(best, time.process_time() - start)
        per_second_ms = 1000.0 * best / args.seconds
        print(f"librosa {name}: {per_second_ms:.3f} ms CPU per second of 48 kHz stereo audio "
              f"({best:.3f} s CPU for {args.seconds:g} s, best of {args.repeats})")


if __name__ == "__main__":
    main()
