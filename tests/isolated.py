"""Run a script in a fresh Python where `modeling_t2l` cannot be imported: the remote-code user's situation."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

# Whatever installed the package (editable finder, .pth file), the child must not see it; the check makes sure a
# passing test really proves loading without the package.
BLOCK_PACKAGE = textwrap.dedent(
    """
    import importlib.abc, sys

    class BlockPackage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "modeling_t2l" or name.startswith("modeling_t2l."):
                raise ModuleNotFoundError(f"blocked: {name}", name=name)
            return None

    sys.meta_path.insert(0, BlockPackage())
    try:
        import modeling_t2l  # noqa: F401
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit("modeling_t2l is importable in the child: the test would prove nothing")
    """
)


def run_without_package(body: str, args: list[str], tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `body` (after the import blocker) with `python -I`, offline, in `tmp_path`; fail with the child's stderr."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    script = tmp_path / "child.py"
    script.write_text(BLOCK_PACKAGE + textwrap.dedent(body))
    result = subprocess.run(
        [sys.executable, "-I", str(script), *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result
