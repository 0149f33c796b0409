#!/usr/bin/env python3
"""Writes the librosa reference fixtures that `tests/analysis.rs` checks the Analyzer against.

Run from the repository root (deterministic; needs librosa 0.11, soxr, numpy, scipy and ffmpeg):

    python3 tests/make_analysis_fixtures.py [--corpus ../shared/corpus]

What it writes to `tests/fixtures/analysis/`:

* Audio the Rust tests decode with our own decoder:
  - `etr_kick_22k.wav`, `silvan_22k.wav`: 8 s excerpts of two corpus recordings, loaded exactly
    as the seed loads a song (`librosa.load`: mono mix, soxr_hq resampling to 22.05 kHz), then
    stored as 16-bit WAV. The references are computed from the 16-bit file as read back, so the
    Rust side and librosa see the same samples.
  - `warzone_8s.m4a`: an 8 s slice of the AAC recording, stream-copied (same codec, 44.1 kHz,
    with the edit list ffmpeg writes for the cut). The reference decodes it with ffmpeg (to
    float, honouring the edit list as librosa's audioread/ffmpeg path does), mixes to mono and
    resamples with soxr_hq, like `librosa.load`; the Rust test analyses it at its native 44.1 kHz.
  - `silvan_96k.flac`: a 1.5 s slice of the 96 kHz / 24-bit FLAC, re-encoded losslessly as FLAC
    at the same rate and depth (stream copy would keep the original's 30 s STREAMINFO).
  - `synth_kick_22k.wav`, `synth_a4_22k.wav`, `synth_triad_22k.wav`: synthetic signals (a 55 Hz
    kick pulse train over a quiet pad and noise; a pure A4; a C-major triad C4-E4-G4).
* For each of them `<stem>.ref.npy`: float32, shape (29, frames) at hop 512 / 22.05 kHz, rows
    0      kick-band energy: sum of |STFT|^2 (n_fft 2048, Hann, centred) over 20 <= f <= 120 Hz
    1      mean mel power: mean over the seed's `melspectrogram(n_mels=128, fmax=8000)`
    2      onset: `onset_strength(S=power_to_db(mel), center=False)` (log-mel spectral flux)
    3      the seed's normalised power: (p - min) / ptp
    4      the seed's power rise: gradient / max, clipped at 0
    5..16  the seed's `chroma_cqt(y, sr, hop_length=512)` (tuning estimated, as the seed)
    17..28 `chroma_cqt(..., tuning=0)`: the same at A440, which is what a real-time analyzer
           that cannot look at the whole song uses
* `manifest.json`: per fixture the file names, sample rates, frame counts, the tuning librosa
  estimated, and where the excerpt came from.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

import librosa
import numpy as np
import scipy.io.wavfile

SR = 22050
HOP = 512
N_FFT = 2048
KICK_LOW_HZ = 20.0
KICK_HIGH_HZ = 120.0
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "analysis")


def reference_features(y, sr):
    """The seed's features (and the kick band and onset the issue adds) on mono `y` at `sr`."""
    assert sr == SR
    y = np.asarray(y, dtype=np.float32)
    stft_power = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP)) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    band = (freqs >= KICK_LOW_HZ) & (freqs <= KICK_HIGH_HZ)
    kick = stft_power[band].sum(axis=0)

    # The seed's calls, verbatim.
    spec = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128, fmax=8000, hop_length=HOP)
    specm = np.mean(spec, axis=0)
    gradm = np.gradient(specm)
    gradm = gradm / np.max(gradm)
    gradm = gradm.clip(min=0)
    specm_norm = (specm - np.min(specm)) / np.ptp(specm)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP)
    tuning = float(librosa.estimate_tuning(y=y, sr=sr, bins_per_octave=36))
    chroma_a440 = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP, tuning=0.0)

    onset = librosa.onset.onset_strength(
        S=librosa.power_to_db(spec), sr=sr, hop_length=HOP, center=False
    )

    frames = spec.shape[1]
    rows = [kick, specm, onset, specm_norm, gradm]
    rows = [np.asarray(r, dtype=np.float32)[:frames] for r in rows]
    table = np.ascontiguousarray(
        np.vstack(rows + [chroma[:, :frames], chroma_a440[:, :frames]]), dtype=np.float32
    )
    assert table.shape == (29, frames), table.shape
    assert np.all(np.isfinite(table))
    return table, tuning


def write_wav16(path, y, sr):
    pcm = np.clip(np.round(np.asarray(y, dtype=np.float64) * 32768.0), -32768, 32767)
    scipy.io.wavfile.write(path, sr, pcm.astype(np.int16))


def read_wav16(path):
    y, sr = librosa.load(path, sr=None, mono=True)
    return y, sr


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def ffmpeg_decode_f32(path):
    """Decodes with ffmpeg to interleaved float32 (edit lists honoured); returns (channels, sr)."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=sample_rate,channels", "-of", "json", path],
        check=True, capture_output=True, text=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    sr, channels = int(stream["sample_rate"]), int(stream["channels"])
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "f32le", "-"],
        check=True, capture_output=True,
    ).stdout
    data = np.frombuffer(raw, dtype="<f4").reshape(-1, channels).T
    return data, sr


def excerpt_22k(src, offset_s, duration_s, stem, manifest, note):
    y, sr = librosa.load(src, sr=SR, mono=True, offset=offset_s, duration=duration_s)
    path = os.path.join(OUT, stem + ".wav")
    write_wav16(path, y, SR)
    y16, sr16 = read_wav16(path)
    assert sr16 == SR
    add_reference(stem, y16, manifest, audio=stem + ".wav", audio_sr=SR, note=note)


def add_reference(stem, y, manifest, audio, audio_sr, note):
    table, tuning = reference_features(y, SR)
    np.save(os.path.join(OUT, stem + ".ref.npy"), table)
    manifest.append(
        {
            "stem": stem,
            "audio": audio,
            "audio_sample_rate_hz": audio_sr,
            "reference_sample_rate_hz": SR,
            "hop_samples": HOP,
            "num_frames": int(table.shape[1]),
            "reference_num_samples": int(len(y)),
            "tuning_bins": tuning,
            "note": note,
        }
    )
    print(f"{stem}: {table.shape[1]} frames, tuning {tuning:+.2f} bins", file=sys.stderr)


def synth_signals():
    """Deterministic synthetic test signals at 22.05 kHz (seeded noise)."""
    rng = np.random.default_rng(20240603)
    out = {}

    # 55 Hz kick: 8 hits 0.5 s apart, 2 ms attack then 80 ms exponential decay, over a quiet
    # sustained A3+C#5 pad (-26 dBFS) and white noise (-46 dBFS), so the kick band is not the only
    # thing in the signal.
    n = int(4.0 * SR)
    t = np.arange(n) / SR
    y = 0.05 * np.sin(2 * np.pi * 220.0 * t) + 0.05 * np.sin(2 * np.pi * 554.37 * t)
    y += 0.005 * rng.uniform(-1.0, 1.0, n)
    hits_s = 0.25 + 0.5 * np.arange(8)
    for hit in hits_s:
        k = t - hit
        on = k >= 0
        env = np.where(on, np.minimum(k / 0.002, 1.0) * np.exp(-np.maximum(k, 0) / 0.08), 0.0)
        y += 0.7 * env * np.sin(2 * np.pi * 55.0 * np.maximum(k, 0))
    out["synth_kick_22k"] = (y, {"hits_s": hits_s.tolist()})

    # Pure A4 at -6 dBFS with 10 ms fades.
    n = int(3.0 * SR)
    t = np.arange(n) / SR
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    out["synth_a4_22k"] = (0.5 * fade * np.sin(2 * np.pi * 440.0 * t), {"pitch_class": 9})

    # C-major triad C4 E4 G4, equal amplitudes, 10 ms fades.
    freqs = [261.6256, 329.6276, 391.9954]
    y = sum(0.25 * np.sin(2 * np.pi * f * t) for f in freqs) * fade
    out["synth_triad_22k"] = (y, {"pitch_classes": [0, 4, 7]})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "corpus"))
    args = parser.parse_args()
    corpus = os.path.abspath(args.corpus)
    if not os.path.isdir(corpus):
        corpus = "/work/shared/corpus"
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.makedirs(OUT, exist_ok=True)
    manifest = []

    excerpt_22k(
        os.path.join(corpus, "01_kick_etr_credits.wav"), 10.0, 8.0, "etr_kick_22k", manifest,
        "01_kick_etr_credits.wav 10-18 s, librosa.load mono 22.05 kHz, 16-bit",
    )
    excerpt_22k(
        os.path.join(corpus, "03_quiet_wesnoth_silvan_sanctuary_96k24.flac"), 12.0, 8.0,
        "silvan_22k", manifest,
        "03_quiet_wesnoth_silvan_sanctuary_96k24.flac 12-20 s, librosa.load mono 22.05 kHz, 16-bit",
    )

    # AAC slice in its own codec and rate; the reference hears what ffmpeg decodes.
    m4a = os.path.join(OUT, "warzone_8s.m4a")
    ffmpeg("-ss", "10", "-t", "8", "-i",
           os.path.join(corpus, "05_electronic_warzone_broken_dreams.m4a"),
           "-c", "copy", "-map_metadata", "-1", "-fflags", "+bitexact", m4a)
    data, sr = ffmpeg_decode_f32(m4a)
    mono = librosa.to_mono(data)
    y = librosa.resample(mono, orig_sr=sr, target_sr=SR, res_type="soxr_hq")
    add_reference("warzone_8s", y, manifest, audio="warzone_8s.m4a", audio_sr=sr,
                  note="05_electronic_warzone_broken_dreams.m4a 10-18 s, AAC stream copy, "
                       "44.1 kHz stereo; reference: ffmpeg f32 decode, mono, soxr_hq 22.05 kHz")

    # 96 kHz / 24-bit FLAC slice; soundfile decodes it exactly, as librosa.load would.
    flac = os.path.join(OUT, "silvan_96k.flac")
    ffmpeg("-ss", "12", "-t", "1.5", "-i",
           os.path.join(corpus, "03_quiet_wesnoth_silvan_sanctuary_96k24.flac"),
           "-c:a", "flac", "-sample_fmt", "s32", "-bits_per_raw_sample", "24",
           "-map_metadata", "-1", "-fflags", "+bitexact", flac)
    y, sr = librosa.load(flac, sr=SR, mono=True)
    add_reference("silvan_96k", y, manifest, audio="silvan_96k.flac", audio_sr=96000,
                  note="03_quiet_wesnoth_silvan_sanctuary_96k24.flac 12-13.5 s, FLAC 24-bit "
                       "96 kHz stereo; reference: librosa.load mono 22.05 kHz")

    for stem, (y, truth) in synth_signals().items():
        path = os.path.join(OUT, stem + ".wav")
        write_wav16(path, y, SR)
        y16, _ = read_wav16(path)
        add_reference(stem, y16, manifest, audio=stem + ".wav", audio_sr=SR,
                      note="synthetic: " + json.dumps(truth))
        manifest[-1]["truth"] = truth

    with tempfile.NamedTemporaryFile("w", dir=OUT, delete=False, suffix=".tmp") as tmp:
        json.dump({"fixtures": manifest}, tmp, indent=1)
        tmp.write("\n")
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, os.path.join(OUT, "manifest.json"))


if __name__ == "__main__":
    main()
