"""Screenshots of the real window under Xvfb (streaming through JACK, meter moving) for the README."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.jack
@pytest.mark.slow
def test_screenshots_of_the_streaming_window_and_the_conversion_list(jack_server, xvfb, tmp_path):
    server = jack_server(48000, 256)
    env = dict(server.env(), DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", VOXSHIFT_DATA_DIR=str(tmp_path / "data"))
    out = ROOT / "artifacts" / "screenshots"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.app.screenshot_app", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "errors: []" in proc.stdout, proc.stdout
    assert "jack:" not in proc.stdout, proc.stdout  # the harness reached the app's ports
    # The README's copies are refreshed on request only, so a test run never edits tracked files.
    docs = ROOT / "docs" / "screenshots" if os.environ.get("VOXSHIFT_UPDATE_SCREENSHOTS") else None
    for name in ("main_window.png", "file_conversion.png"):
        png = out / name
        assert png.stat().st_size > 20_000, name  # a real rendered window, not a blank image
        if docs is not None:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, docs / name)
