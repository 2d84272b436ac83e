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


def test_without_a_display_voxshift_runs_the_builtin_voice_headless(tmp_path):
    """`voxshift` alone on a headless Linux box says why there is no window and goes live."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["JACK_DEFAULT_SERVER"] = "voxshift-no-such-server"  # no audio device either
    env["JACK_NO_START_SERVER"] = "1"
    proc = subprocess.run([sys.executable, "-m", "app"], capture_output=True, text=True, timeout=120, env=env)
    assert "no display found" in proc.stderr
    assert "deeper" in proc.stderr
