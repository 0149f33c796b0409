#!/usr/bin/env bash
# Builds target/gpu-bench/: everything `bench/gpu.sh` needs on a GPU machine without Rust or
# network. Run here, where Rust, the crates and PyPI are:
#
#     bash bench/gpu_bundle.sh
#
# It holds our two bench executables (release, xz-compressed), pytorch_pretrained_biggan's model
# files (its package without the download helpers, whose boto3/requests/scipy a GPU machine may
# lack), Debian's Vulkan loader for a machine without one, and the scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=target/gpu-bench
PYTHON="${PYTHON:-python3}"

cargo bench --locked --no-run --bench biggan --bench deepdream
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/lib" "$DEST/pytorch_pretrained_biggan"
for name in biggan deepdream; do
  exe="$(ls -t target/release/deps/"$name"-* | grep -v '\.d$' | head -n 1)"
  strip -o "$DEST/bin/$name" "$exe"
  xz -T0 -6 "$DEST/bin/$name"
done

# The reference model's own files, from PyPI's wheel.
wheels="$(mktemp -d)"
"$PYTHON" -m pip download --quiet --no-deps --dest "$wheels" pytorch-pretrained-biggan==0.1.1
"$PYTHON" - "$wheels"/pytorch_pretrained_biggan-*.whl "$DEST/pytorch_pretrained_biggan" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for name in ("config.py", "model.py"):
        with open(f"{sys.argv[2]}/{name}", "wb") as out:
            out.write(wheel.read(f"pytorch_pretrained_biggan/{name}"))
EOF
rm -rf "$wheels"

loader="$({ ldconfig -p || true; } | awk '/libvulkan.so.1 / {print $NF; exit}')"
[ -n "$loader" ] || { echo "no libvulkan.so.1 here: apt-get install libvulkan1" >&2; exit 1; }
cp -L "$loader" "$DEST/lib/libvulkan.so.1"

cp bench/gpu.sh bench/gpu_table.py bench/biggan_pytorch.py bench/deepdream_pytorch.py "$DEST/"
du -sh "$DEST"
echo "bundle in $DEST: copy it to the GPU machine and run: bash $DEST/gpu.sh"
