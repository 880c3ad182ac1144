"""`import modeling_t2l` and `t2l --help` import neither torch nor transformers; the family is still registered
with the Auto classes and the pipeline task as soon as transformers is used (checked in fresh processes)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from modeling_t2l import T2LForVideoClassification, T2LProcessor
from modeling_t2l.cli import COMMANDS
from tests.tiny import tiny_t2l_config

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "datasets", "numpy", "av", "PIL")


def run_python(code: str, cwd=None) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd or REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["--help"]] + [[name, "--help"] for name in COMMANDS], ids=lambda a: " ".join(a))
def test_help_imports_nothing_heavy(argv):
    loaded = run_python(f"""
import contextlib, io, json, sys
from modeling_t2l.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main({argv!r})
    except SystemExit:
        pass
assert "usage" in out.getvalue(), out.getvalue()
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
""")
    assert json.loads(loaded) == []


def test_import_is_light_and_names_resolve_lazily():
    loaded = run_python(f"""
import json, sys
import modeling_t2l
light = [m for m in {HEAVY!r} if m in sys.modules]
config = modeling_t2l.T2LConfig()
print(json.dumps([light, type(config).__name__, 'transformers' in sys.modules, sorted(modeling_t2l.__all__)]))
""")
    light, name, transformers_loaded, public = json.loads(loaded)
    assert light == [] and name == "T2LConfig" and transformers_loaded
    # every family's classes are public names of the package
    assert {"T2LConfig", "T2LForVideoClassification", "TCCLIPForVideoClassification",
            "ViFiCLIPForVideoClassification", "FrozenCLIPForVideoClassification"} <= set(public)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("lazy") / "model"
    torch.manual_seed(0)
    T2LForVideoClassification(tiny_t2l_config(num_frames=2)).save_pretrained(directory)
    T2LProcessor.from_clip_tokenizer(num_frames=2, crop_size=32, shortest_edge=36).save_pretrained(directory)
    return directory


@pytest.mark.parametrize("transformers_first", [False, True], ids=["package_first", "transformers_first"])
def test_auto_classes_and_pipeline_work_right_after_import(saved, transformers_first):
    imports = "import transformers\nimport modeling_t2l" if transformers_first else "import modeling_t2l\nimport transformers"
    out = run_python(f"""
import json
{imports}
from transformers import AutoModel, AutoModelForVideoClassification, AutoProcessor, pipeline
model = AutoModel.from_pretrained({str(saved)!r})
head = AutoModelForVideoClassification.from_pretrained({str(saved)!r})
processor = AutoProcessor.from_pretrained({str(saved)!r})
pipe = pipeline(task="zero-shot-video-classification", model={str(saved)!r})
print(json.dumps([type(model).__name__, type(head).__name__, type(processor).__name__, type(pipe).__name__,
                  type(pipe.model).__module__.startswith("modeling_t2l")]))
""", cwd="/")
    assert json.loads(out) == ["T2LModel", "T2LForVideoClassification", "T2LProcessor",
                               "ZeroShotVideoClassificationPipeline", True]
