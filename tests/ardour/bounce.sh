#!/usr/bin/env bash
# A real DAW bounce with Record on: headless Ardour 7 (Debian's `ardour`, with `sox`) exports a
# session whose track carries the Deep Visualizer VST3 with Record on; the plugin keeps the
# bounce as a take and renders it with the tiny fixture model. Checks (check_take.py): one take,
# its audio equal to the bounced input bit for bit, at transport position 0, complete, nothing
# lost; its MP4 has round(length × fps) frames and the bounce's length.
#
# usage: tests/ardour/bounce.sh [BUNDLE.vst3] [SECONDS]
#   BUNDLE default: target/bundled/Deep Visualizer.vst3 (`cargo xtask bundle deep_visualizer`).
# Needs: ardour (7.x), sox, ffmpeg/ffprobe, python3. Not run by CI (Ardour is not in .ci/run:
# it adds a large install for one check); run it by hand and report.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUNDLE=${1:-$ROOT/target/bundled/Deep Visualizer.vst3}
SECONDS_LONG=${2:-10}
RATE=48000
[ -d "$BUNDLE" ] || { echo "no bundle at $BUNDLE: run cargo xtask bundle deep_visualizer"; exit 1; }
WORK=$(mktemp -d /tmp/deep_visualizer_bounce.XXXXXX)
export XDG_CONFIG_HOME=$WORK/config XDG_CACHE_HOME=$WORK/cache
mkdir -p "$WORK/vst3" "$XDG_CONFIG_HOME/ardour7/export" "$WORK/out" "$WORK/takes" \
  "$WORK/weights/biggan-deep-128"
cp -r "$BUNDLE" "$WORK/vst3/"
# Ardour treats a scan cache as stale unless its mtime is at least the module's: backdate.
find "$WORK/vst3" -exec touch -d "@$(( $(date +%s) - 5 ))" {} +
export VST3_PATH=$WORK/vst3
# The plugin's folders: takes here, the tiny fixture model as biggan-deep-128, CPU, no network.
cp "$ROOT/tests/fixtures/biggan/tiny128/config.json" "$ROOT/tests/fixtures/biggan/tiny128/pytorch_model.bin" \
  "$WORK/weights/biggan-deep-128/"
export DEEP_VISUALIZER_OUTPUT_DIR=$WORK/takes DEEP_VISUALIZER_WEIGHTS=$WORK/weights
export DEEP_VISUALIZER_NO_DOWNLOAD=1 DEEP_VISUALIZER_DEVICE=cpu
# The song: a click track over a quiet chord, 16-bit stereo.
sox -n -r $RATE -c 2 -b 16 "$WORK/chord.wav" synth "$SECONDS_LONG" sine 220 sine 277 vol 0.1
sox -n -r $RATE -c 2 -b 16 "$WORK/click.wav" synth 0.08 sine 55 fade 0 0.08 0.07 pad 0 0.42 \
  repeat $(( SECONDS_LONG * 2 - 1 ))
sox -m "$WORK/chord.wav" "$WORK/click.wav" -b 16 "$WORK/in.wav" trim 0 "$SECONDS_LONG"
NSAMP=$(soxi -s "$WORK/in.wav")
ARDOUR_ENV=(LD_LIBRARY_PATH=/usr/lib/ardour7 ARDOUR_DATA_PATH=/usr/share/ardour7
  ARDOUR_CONFIG_PATH=/etc/ardour7 ARDOUR_DLL_PATH=/usr/lib/ardour7)
env "${ARDOUR_ENV[@]}" /usr/lib/ardour7/ardour-vst3-scanner -f "$WORK/vst3/$(basename "$BUNDLE")" \
  > "$WORK/scan.log" 2>&1 || { cat "$WORK/scan.log"; exit 1; }
PRESET=6a2f3c1e-0b1d-4c7e-9a55-3d2b9e7f0a11
cat > "$XDG_CONFIG_HOME/ardour7/export/float32.preset" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="$PRESET" name="float32">
  <ExportFormat id="20b4ab09-6452-4cb3-bd66-b921cdbd2942"/>
  <ExportFilename><Folder relative="0" path="$WORK/out"/>
    <Field name="label" enabled="1"/><Field name="session" enabled="0"/><Field name="snapshot" enabled="0"/>
    <Field name="timespan" enabled="0"/><Field name="revision" enabled="0"/>
    <Field name="time" enabled="0" value="T_None"/><Field name="date" enabled="0" value="D_None"/>
  </ExportFilename>
</ExportPreset>
XML
export BOUNCE_DIR=$WORK/session BOUNCE_NAME=bounce BOUNCE_RATE=$RATE BOUNCE_OUT_DIR=$WORK/out
export BOUNCE_PRESET=$PRESET BOUNCE_TAKES_DIR=$WORK/takes BOUNCE_WAIT_S=${BOUNCE_WAIT_S:-600}
# Ardour 7.3's headless tools sometimes abort in teardown after the work is done: judge by the
# files, not the exit status.
ardour7-lua "$HERE/setup.lua" > "$WORK/setup.log" 2>&1 || echo "setup exited $?"
grep -aq '^\[setup\] track ready' "$WORK/setup.log" || { cat "$WORK/setup.log"; exit 1; }
grep -a '^\[setup\]' "$WORK/setup.log"
python3 "$HERE/inject_region.py" "$BOUNCE_DIR" bounce music "$WORK/in.wav" "$NSAMP" "$RATE"
started=$(date +%s)
ardour7-lua "$HERE/export.lua" > "$WORK/export.log" 2>&1 || echo "export exited $?"
grep -a '^\[export\]' "$WORK/export.log" || { tail -20 "$WORK/export.log"; exit 1; }
echo "bounce and render took $(( $(date +%s) - started )) s"
ls -la "$WORK/out" "$WORK/takes"
python3 "$HERE/check_take.py" "$WORK/in.wav" "$(ls "$WORK"/out/*.wav | head -1)" "$WORK/takes"
echo "work dir: $WORK"
