"""Screenshots of the real window under Xvfb (streaming through JACK, meter moving) for the README."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.app.conftest import ROOT, run_module


@pytest.mark.jack
@pytest.mark.slow
def test_screenshots_of_the_streaming_window_and_the_conversion_list(jack_server, xvfb, tmp_path):
    server = jack_server(48000, 256)
    env = dict(server.env(), DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", VOXSHIFT_DATA_DIR=str(tmp_path / "data"))
    out = ROOT / "artifacts" / "screenshots"
    stdout = run_module("tests.app.screenshot_app", str(out), env=env, timeout=120)
    assert "errors: []" in stdout, stdout
    assert "jack:" not in stdout, stdout  # the harness reached the app's ports
    # The README's copies are refreshed on request only, so a test run never edits tracked files.
    docs = ROOT / "docs" / "screenshots" if os.environ.get("VOXSHIFT_UPDATE_SCREENSHOTS") else None
    for name in ("main_window.png", "file_conversion.png"):
        png = out / name
        assert png.stat().st_size > 20_000, name  # a real rendered window, not a blank image
        if docs is not None:
            docs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(png, docs / name)
