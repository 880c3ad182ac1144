"""README.md runs as written: every ```python and ```bash block is executed, offline, on tiny models.

The names the blocks use (Hub ids, checkpoint folders, video files) are stood in for by
tests/readme_fixtures.py: a hub cache in which the README's Hub ids resolve to tiny models, and a working folder
holding its local files. Each block runs in a fresh copy of that folder, in its own process.

A block that cannot run offline is marked right before it with `<!-- readme-test: skip (reason) -->`; the test
counts them, requires a reason for each, and keeps their number small.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme_fixtures import build_readme_workspace

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BLOCK = re.compile(r"(?:<!--\s*readme-test:\s*skip\s*(?P<reason>\(.*?\))?\s*-->\s*\n)?```(?P<lang>python|bash)\n(?P<code>.*?)```",
                   re.DOTALL)
# blocks that need datasets, released checkpoints, the Hub, a GPU, a server or minutes of training; each names the
# test that runs the same calls on generated data
MAX_SKIPPED = 22


def readme_blocks():
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in BLOCK.finditer(text):
        line = text[: match.start("code")].count("\n") + 1
        skipped = match.group(0).lstrip().startswith("<!--")
        reason = (match.group("reason") or "").strip("() ")
        blocks.append((line, match.group("lang"), match.group("code"), skipped, reason))
    return blocks


BLOCKS = readme_blocks()


def test_skipped_blocks_are_few_and_each_says_why():
    skipped = [(line, reason) for line, _, _, is_skipped, reason in BLOCKS if is_skipped]
    assert all(reason for _, reason in skipped), skipped
    assert len(skipped) <= MAX_SKIPPED, skipped
    assert len(BLOCKS) - len(skipped) >= 8  # most of the README runs
    # a skip marker is only ever right before a block (a stray one would silently skip nothing)
    assert README.read_text().count("readme-test: skip") == len(skipped)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return build_readme_workspace(tmp_path_factory.mktemp("readme"))


@pytest.mark.parametrize(
    "line, lang, code",
    [pytest.param(line, lang, code, id=f"README.md:{line}-{lang}") for line, lang, code, skipped, _ in BLOCKS
     if not skipped],
)
def test_readme_block_runs(workspace, tmp_path, line, lang, code):
    hub, template = workspace
    work = tmp_path / "work"
    shutil.copytree(template, work, symlinks=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_HUB_CACHE": str(hub),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        # the `t2l` console script of this environment, and `python` meaning this interpreter
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if lang == "python":
        command = [sys.executable, "-c", code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", code]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"README.md line {line} ({lang}) failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
