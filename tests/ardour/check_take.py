#!/usr/bin/env python3
"""Checks what tests/ardour/bounce.sh produced (standard library only, plus ffprobe).

usage: check_take.py IN.wav BOUNCE.wav TAKES_DIR
One take in TAKES_DIR, complete, nothing lost; its audio equals IN.wav (16-bit, so exactly
k/32768) from transport position 0; NAME.mp4 beside it has round(length × fps) frames, and it
and its audio last as long as the take and the bounce.
"""
import glob, json, os, struct, subprocess, sys, wave

in_wav, bounce_wav, takes_dir = sys.argv[1:4]

def wav_frames(path):
    with wave.open(path) as w:
        assert w.getsampwidth() == 2, "16-bit input expected"
        n, ch = w.getnframes(), w.getnchannels()
        data = struct.unpack(f"<{n * ch}h", w.readframes(n))
    return [[data[i * ch + c] / 32768.0 for c in range(ch)] for i in range(n)], w.getframerate()

takes = sorted(glob.glob(os.path.join(takes_dir, "*.take")))
assert len(takes) == 1, f"one bounce, one take: {os.listdir(takes_dir)}"
take = takes[0]
manifest = json.load(open(os.path.join(take, "manifest.json")))
assert manifest["complete"], "the take was closed"
assert manifest["num_lost_frames"] == 0, f"lost {manifest['num_lost_frames']} frames"
ch = manifest["num_channels"]
blocks = {}
with open(os.path.join(take, "audio.blocks"), "rb") as f:
    while True:
        header = f.read(24)
        if len(header) < 24:
            break
        magic, n, pos, _sum, _ = struct.unpack("<4sIqII", header)
        assert magic == b"DVTB"
        samples = struct.unpack(f"<{n * ch}f", f.read(n * ch * 4))
        for i in range(n):
            blocks[pos + i] = samples[i * ch:(i + 1) * ch]
frames, rate = wav_frames(in_wav)
assert manifest["sample_rate_hz"] == rate
start, end = min(blocks), max(blocks) + 1
print(f"take {os.path.basename(take)}: transport {start}..{end} ({(end - start) / rate:.3f} s), "
      f"input {len(frames)} frames")
assert start == 0, f"the take starts at transport 0, not {start}"
assert end - start >= len(frames), "the take holds the whole song"
mismatch = [i for i in range(len(frames)) if tuple(blocks.get(i, ())) != tuple(frames[i])]
assert not mismatch, f"{len(mismatch)} frames differ from the input, first at {mismatch[0]}"
print("the take's audio equals the input bit for bit")
video = take[: -len(".take")] + ".mp4"
assert os.path.isfile(video), f"{video} was not rendered"

def probe(stream, entry):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", f"{stream}:0", "-count_frames",
                          "-show_entries", f"stream={entry}", "-of", "default=nw=1:nk=1", video],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()

num_frames = int(probe("v", "nb_read_frames"))
fps_num, fps_den = map(int, probe("v", "r_frame_rate").split("/"))
fps = fps_num / fps_den
length_s = (end - start) / rate
audio_s = float(probe("a", "duration"))
print(f"video: {num_frames} frames at {fps:.3f} fps, audio {audio_s:.3f} s; take {length_s:.3f} s")
assert num_frames == round(length_s * fps), "round(length × fps) frames"
assert abs(audio_s - length_s) < 0.03, "the video's audio lasts the take"
bounce_s = int(subprocess.run(["soxi", "-s", bounce_wav], check=True, capture_output=True,
                              text=True).stdout) / rate
print(f"the bounce: {bounce_s:.3f} s")
assert abs(num_frames / fps - bounce_s) <= 0.5 / fps + 0.01, "the video lasts the bounce"
assert abs(audio_s - bounce_s) < 0.03, "the video's audio lasts the bounce"
print("OK")
