#!/usr/bin/env bash
# The lent-GPU call of the HWAT + evaluation run (hwat-h200/, see README.md): install, then the run. Updated
# to today's driver (results.json, figures/ and checkpoints/ under $OUT); hwat-h200/command.txt has the call of that time.
# Usage on the GPU machine, in the checkout, with .whl/ and .gpu-data/ carried: bash results/cifar10/gpu_run.sh
set -euo pipefail
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null
nvidia-smi -L | tee "$OUT/run.log"
CMD=(python3 results/cifar10/run.py --device cuda --data-dir .gpu-data --out "$OUT"
     --digital-weights results/cifar10/networks/cifar10_digital.pt --deadline-s 440 --hwat-budget-s 260)
echo "command: ${CMD[*]}" | tee -a "$OUT/run.log"
"${CMD[@]}" 2>&1 | tee -a "$OUT/run.log"
# The device tool returns at most 8 files: the figures travel as one archive.
(cd "$OUT" && tar czf figures.tar.gz figures && rm -rf figures)
