"""The `t2l` command: every sub-command has --help, unknown commands are refused, scripts are the same commands."""
import subprocess
import sys
from pathlib import Path

import pytest

from modeling_t2l.cli import COMMANDS, main

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def test_top_level_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: t2l {name}")


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["clasify"])
    assert exit_info.value.code == 2
    assert "unknown command 'clasify'" in capsys.readouterr().err


SCRIPT_COMMANDS = {"convert_original_checkpoint.py": "convert", "train.py": "train", "evaluate.py": "evaluate",
                   "push_to_hub.py": "push", "benchmark.py": "benchmark", "quickstart.py": "demo"}


def test_every_script_forwards_to_its_command():
    assert {path.name for path in SCRIPTS.glob("*.py")} == set(SCRIPT_COMMANDS)
    for script, command in SCRIPT_COMMANDS.items():
        assert f'main(["{command}", *sys.argv[1:]])' in (SCRIPTS / script).read_text(), script


def test_a_script_runs_as_its_command():
    result = subprocess.run([sys.executable, str(SCRIPTS / "train.py"), "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: t2l train")
