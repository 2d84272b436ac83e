"""The voxshift entry point: help, version, and the module dispatch."""

import subprocess
import sys

from app.cli import build_parser
from app.main import main


def test_version_lists_torch(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("voxshift ")
    assert "torch " in out


def test_help_runs_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0
    assert "voxshift" in proc.stdout
    assert "examples:" in proc.stdout


def test_every_subcommand_has_help_with_examples():
    parser = build_parser()
    subactions = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    for sub in subactions:
        for name, p in sub.choices.items():
            assert "example" in (p.epilog or "").lower(), f"`voxshift {name} --help` has no examples"
