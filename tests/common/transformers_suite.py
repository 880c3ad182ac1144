"""transformers' own common test-suite (ModelTesterMixin, ConfigTester, ProcessorTesterMixin), imported from the
source distribution of the installed transformers.

The wheel does not ship transformers' `tests/` folder, and this repository does not copy it: `.ci/run` downloads the
sdist of the installed version with pip, unpacks it and names its `tests/` folder in `T2L_TRANSFORMERS_TESTS`.
Without that variable every common test is skipped with the reason below.

The sdist's `tests/` lacks a few sub-packages the common modules import (`tests/__init__.py`, `exporters/`,
`generation/`, `utils/`). The folder is copied into a temporary package with those pieces written as stand-ins:

* `ExportTesterMixin` -> an empty mixin: the export tests are not run (our own `torch.export` test covers
  `get_video_features`, tests/test_modeling.py);
* `GenerationTesterMixin` -> an empty mixin: no model of this package generates text;
* `config_common_kwargs` -> a small set of `PreTrainedConfig` keyword arguments that `ConfigTester` checks are
  stored as given;
* `fetch_hub_objects_for_ci.url_to_local_path` (from transformers' repository `utils/`) -> the URL itself: the
  processor tests that read Hub media need the network and are skipped where they are used.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ENV = "T2L_TRANSFORMERS_TESTS"
PACKAGE = "transformers_common_tests"
SKIP_REASON = (
    f"transformers' common tests need its source distribution: set {ENV} to the `tests/` folder of the unpacked "
    f"sdist of the installed transformers (.ci/run does this)"
)

_STUBS = {
    "__init__.py": "",
    "exporters/__init__.py": "",
    "exporters/test_export.py": (
        "class ExportTesterMixin:\n"
        "    \"\"\"Stand-in: the sdist does not ship transformers' export tests.\"\"\"\n"
    ),
    "generation/__init__.py": "",
    "generation/test_utils.py": (
        "class GenerationTesterMixin:\n"
        "    \"\"\"Stand-in: the sdist does not ship transformers' generation tests.\"\"\"\n"
    ),
    "utils/__init__.py": "",
    "utils/test_configuration_utils.py": (
        "config_common_kwargs = {\n"
        "    'return_dict': False, 'output_hidden_states': True, 'output_attentions': True, 'dtype': 'float16',\n"
        "    'chunk_size_feed_forward': 5, 'tie_word_embeddings': False, 'is_encoder_decoder': True,\n"
        "    'id2label': {0: 'label'}, 'label2id': {'label': '0'}, 'problem_type': 'regression',\n"
        "}\n"
    ),
}


def _install(source: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="t2l-transformers-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    target = root / PACKAGE
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("models", "fixtures", "__pycache__"))
    for relative, text in _STUBS.items():
        path = target / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    fetch = root / "fetch_hub_objects_for_ci.py"
    if importlib.util.find_spec("fetch_hub_objects_for_ci") is None:
        fetch.write_text("def url_to_local_path(url, *args, **kwargs):\n    return url\n")
    sys.path.insert(0, str(root))


def common_module(name: str):
    """`transformers_common_tests.<name>` (e.g. "test_modeling_common"), or skip the calling test module."""
    source = os.environ.get(ENV)
    if not source:
        pytest.skip(SKIP_REASON, allow_module_level=True)
    source = Path(source)
    if not (source / f"{name}.py").is_file():
        raise FileNotFoundError(f"{ENV}={source}: no {name}.py there (expected the sdist's tests/ folder)")
    if PACKAGE not in sys.modules:
        _install(source)
    return importlib.import_module(f"{PACKAGE}.{name}")
