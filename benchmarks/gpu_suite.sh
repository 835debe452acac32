#!/usr/bin/env bash
# Every GPU measurement issue 6 asks for, in one call on a lent GPU machine.
#
# The machine has its own Python (torch with CUDA, torchvision, CPU-only onnxruntime, onnx,
# click, pillow, opencv, scikit-image) and no network, so nothing is installed: the checkout is
# put on PYTHONPATH through a temporary folder that maps ganedit.train and ganedit.export onto
# train/ and export/ as pyproject.toml does. Each step's output goes to $OUT/NAME.txt (or
# ./gpu-results) and to the terminal; a step that fails or runs past STEP_TIMEOUT seconds does
# not stop the others.
#
#   bash benchmarks/gpu_suite.sh                 # on the GPU machine (about 6 minutes on an H200)
#   SMOKE=1 bash benchmarks/gpu_suite.sh         # here, on the CPU: checks the steps run at all
#
# The torch backend is what runs there (onnxruntime-gpu is not installed and too big to carry
# in one call); the onnxruntime steps run too when its CUDA provider is present.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -n "${SMOKE:-}" ] && py=.venv/bin/python
out=${OUT:-$root/gpu-results}
mkdir -p "$out"
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
mkdir -p "$site/ganedit"
cp -r ganedit/. "$site/ganedit/"
ln -s "$root/train" "$site/ganedit/train"
ln -s "$root/export" "$site/ganedit/export"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
failed=0

step() {
  local name=$1
  shift
  echo "== $name: $*"
  timeout "${STEP_TIMEOUT:-240}" "$py" "$@" 2>&1 | tee "$out/$name.txt"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { echo "!! $name exited $rc"; failed=$((failed + 1)); }
}

if [ -n "${SMOKE:-}" ]; then
  dev=(--device cpu --images 4 --rounds 1 --workers 2)
  step smoke_resnet9 benchmarks/gpu_throughput.py --net resnet9 --size 64 --batch-size 2 \
    --backend torch "${dev[@]}"
  step smoke_rrdb benchmarks/gpu_throughput.py --net rrdb --size 16 --batch-size 1 \
    --backend torch "${dev[@]}"
  echo "smoke run done, $failed step(s) failed"
  exit "$failed"
fi

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv | tee "$out/gpu.txt"
"$py" - <<'EOF' 2>&1 | tee -a "$out/gpu.txt"
import onnxruntime, torch, torchvision
print("torch", torch.__version__, "torchvision", torchvision.__version__,
      "onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
print(torch.cuda.get_device_name(0), "CPUs:", __import__("os").cpu_count())
EOF
ort_cuda=$("$py" -c "import onnxruntime as o; print(int('CUDAExecutionProvider' in o.get_available_providers()))")

# fp16 against fp32 per model family, through the public API (Done when: within 2 levels).
step fp16_torch benchmarks/fp16_accuracy.py --cuda --backend torch

# (a) end to end, (b) model alone, (c) reference loop; ratios and fraction of the FLOP peak.
workers=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
common=(--backend torch --workers "$workers" --rounds 3 --json)
step r9_256_half benchmarks/gpu_throughput.py --net resnet9 --size 256 --images 4096 \
  --batch-size 64 --half --reference-images 256 "${common[@]}"
step r9_256_fp32 benchmarks/gpu_throughput.py --net resnet9 --size 256 --images 2048 \
  --batch-size 64 --reference-images 256 "${common[@]}"
step r9_1024_half benchmarks/gpu_throughput.py --net resnet9 --size 1024 --images 256 \
  --batch-size 8 --half --reference-images 32 "${common[@]}"
step rrdb_512_half benchmarks/gpu_throughput.py --net rrdb --size 512 --images 32 \
  --batch-size 2 --half --reference-images 8 "${common[@]}"
step rrdb_512_fp32 benchmarks/gpu_throughput.py --net rrdb --size 512 --images 16 \
  --batch-size 1 --reference-images 8 "${common[@]}"

if [ "$ort_cuda" = 1 ]; then
  step fp16_onnxruntime benchmarks/fp16_accuracy.py --cuda --backend onnxruntime
  step r9_256_half_ort benchmarks/gpu_throughput.py --net resnet9 --size 256 --images 4096 \
    --batch-size 64 --half --reference-images 256 --backend onnxruntime --workers "$workers" \
    --rounds 3 --json
fi

echo "done, $failed step(s) failed; outputs in $out"
exit "$failed"
