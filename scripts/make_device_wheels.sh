#!/usr/bin/env bash
# Wheels of the packages a CUDA machine without a package index lacks (CPython 3.12, manylinux x86_64), into .whl/
# at the project root (ignored by git), for scripts/device_check.sh. Run it where the package index is reachable:
#
#   bash scripts/make_device_wheels.sh [NAME==VERSION ...]      (default: the list below)
set -eu
cd "$(dirname "$0")/.."
mkdir -p .whl
defaults=(transformers==5.24.0 huggingface_hub==2.4.0 datasets==5.2.0 av==18.1.0 evaluate==0.4.6 ftfy==6.3.1
          wcwidth==0.9.4 dill==0.4.1 multiprocess==0.70.19 xxhash==4.1.0
          pytest==9.2.0 pluggy iniconfig pytest-timeout)   # the CUDA tests run with pytest
specs=("$@"); [ ${#specs[@]} -gt 0 ] || specs=("${defaults[@]}")
platforms=()
for platform in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$platform")
done
for spec in "${specs[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d .whl "$spec" || echo "could not fetch $spec (add another --platform manylinux_2_N_x86_64)"
done
du -sh .whl
