#!/usr/bin/env bash
# The prepared device check for one CUDA machine: install the carried wheels, run the CUDA tests, run the check.
#
#   bash scripts/device_check.sh OUTDIR [more `t2l benchmark --device-check` options]
#
# Run it in the project root of a machine with a CUDA GPU (built for one H200: under 8 minutes in all). The
# packages the machine lacks travel as wheels in .whl/ (bash scripts/make_device_wheels.sh builds them where a
# package index is reachable); without .whl/ the installed packages are used. OUTDIR receives five files:
#   device_check.md, device_check.json   the report (written after every section, so a killed run keeps its rows)
#   pytest_cuda.txt                      tests/test_cuda.py on the device
#   setup.txt                            wheel install, pip check, versions, nvidia-smi
#   run.txt                              the check's own log
# DEVICE_CHECK_SECONDS (default 450) is the whole script's budget; the check gets what the tests leave of it.
# DEVICE_CHECK_DEVICE (default cuda) names the device; `DEVICE_CHECK_DEVICE=cpu ... --tiny` rehearses the script.
set -u
out=${1:?usage: bash scripts/device_check.sh OUTDIR [options]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
start=$(date +%s)
total=${DEVICE_CHECK_SECONDS:-450}
device=${DEVICE_CHECK_DEVICE:-cuda}

{
  if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$PWD/.site" \
      .whl/*.whl && echo "installed $(ls .whl/*.whl | wc -l) wheels into .site" || echo "wheel install FAILED"
    export PYTHONPATH="$PWD/.site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "no .whl/: using the installed packages"
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
  fi
  python3 -m pip check
  python3 -c "import torch, transformers, datasets, av; print('torch', torch.__version__, 'CUDA', torch.version.cuda,
    'available', torch.cuda.is_available(), '| transformers', transformers.__version__, '| datasets',
    datasets.__version__, '| av', av.__version__)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
  echo "setup took $(( $(date +%s) - start )) s"
} > "$out/setup.txt" 2>&1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# The CUDA tests (they skip with their reason where CUDA is missing); at most 180 s.
timeout 180 python3 -m pytest -v -rs -p no:cacheprovider tests/test_cuda.py > "$out/pytest_cuda.txt" 2>&1
echo "pytest exit code $? after $(( $(date +%s) - start )) s" >> "$out/pytest_cuda.txt"

# The check itself: its time budget is what is left, minus a margin for writing the report; `timeout` is only the
# backstop (the report is rewritten after every section).
left=$(( total - ($(date +%s) - start) - 15 ))
[ "$left" -lt 60 ] && left=60
timeout $(( left + 60 )) python3 -m modeling_t2l.cli benchmark --device-check --device "$device" \
  --fixtures tests/fixtures/official_t2l --time-budget "$left" --out "$out" "$@" > "$out/run.txt" 2>&1
code=$?
echo "device check exit code $code after $(( $(date +%s) - start )) s" >> "$out/run.txt"
tail -n 3 "$out/run.txt"
exit $code
