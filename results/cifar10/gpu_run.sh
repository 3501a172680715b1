#!/usr/bin/env bash
# The lent-GPU call that produced this folder's run (see README.md): install, then the run.
# Usage on the GPU machine, in the checkout, with .whl/ and .gpu-data/ carried: bash results/cifar10/gpu_run.sh
set -euo pipefail
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null
nvidia-smi -L | tee "$OUT/run.log"
CMD=(python3 results/cifar10/run.py --device cuda --data-dir .gpu-data --cache-dir /tmp/c10cache --out "$OUT"
     --digital-weights results/cifar10/cifar10_digital.pt --deadline-s 440 --hwat-budget-s 260)
echo "command: ${CMD[*]}" | tee -a "$OUT/run.log"
"${CMD[@]}" 2>&1 | tee -a "$OUT/run.log"
# The device tool returns at most 8 files: the figures travel as one archive.
(cd "$OUT" && tar czf figures.tar.gz ./*.png ./*.svg && rm -f ./*.png ./*.svg)
