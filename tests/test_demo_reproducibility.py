"""`t2l demo` computes on a fixed number of threads, so its digits do not depend on the machine's core count.

The tiny CLIP's pre-training (the demo's first computation) is run in two processes whose default thread counts
differ (OMP_NUM_THREADS=1, and torch's default, one per core): inside `reproducible_torch(2)` both give the same
weights, bit for bit. Without
the fixed count they differ (measured: already after 20 steps), which is what made the README's table change from
machine to machine.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from modeling_t2l.quickstart.environment import describe, environment, reproducible_torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = """
import hashlib, json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from modeling_t2l.quickstart.environment import reproducible_torch
from modeling_t2l.quickstart.tiny_clip import pretrain_tiny_clip

default = torch.get_num_threads()
with reproducible_torch(2):
    folder = pretrain_tiny_clip(Path(sys.argv[1]), steps=20, eval_images=8, progress=False)
weights = load_file(str(folder / "model.safetensors"))
digest = hashlib.sha256(b"".join(weights[k].numpy().tobytes() for k in sorted(weights))).hexdigest()
print(json.dumps({"default_threads": default, "digest": digest}))
"""


def _pretrain(tmp_path: Path, threads: int | None) -> dict:
    script = tmp_path / "pretrain.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(REPO)
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    completed = subprocess.run([sys.executable, str(script), str(tmp_path / f"cache{threads}")], env=env,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_pretraining_gives_the_same_weights_whatever_the_default_thread_count(tmp_path):
    one, default = _pretrain(tmp_path, 1), _pretrain(tmp_path, None)
    assert one["digest"] == default["digest"]
    assert one["default_threads"] == 1 and default["default_threads"] == torch.get_num_threads()


def test_threads_and_determinism_are_set_for_the_run_and_restored():
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    with reproducible_torch(3):
        inside = environment()
        assert inside["torch_threads"] == 3 and inside["deterministic_algorithms"] is True
        assert "3 thread(s)" in describe(inside) and inside["cpu_capability"] in describe(inside)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before
