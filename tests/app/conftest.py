"""GUI fixtures: every window gets a temporary data folder and its own temporary QSettings file,
so tests never read or write the user's settings, voices or log."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app import paths
from app.controllers import AppController
from app.gui import create_app
from app.main_window import MainWindow


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings" / "voxshift-test.ini"


@pytest.fixture
def open_window(qtbot, data_dir: Path, settings_file: Path, tmp_path: Path) -> Iterator[Callable]:
    """Factory: a shown main window + controller on the temporary store (closed at teardown)."""
    create_app()
    opened: list[MainWindow] = []

    def make() -> tuple[MainWindow, AppController]:
        window = MainWindow()
        controller = AppController(window, QSettings(str(settings_file), QSettings.Format.IniFormat))
        controller.conversion.set_output_dir(tmp_path / "out")
        qtbot.addWidget(window)
        window.show()
        opened.append(window)
        return window, controller

    yield make
    for window in opened:
        if window.isVisible():
            window.close()


@pytest.fixture
def xvfb() -> Iterator[str]:
    """An Xvfb server; yields its DISPLAY name."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed (scripts/setup.sh installs it)")
    display = f":{90 + os.getpid() % 500}"
    proc = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    assert proc.poll() is None, "Xvfb did not start"
    yield display
    proc.terminate()
    proc.wait(timeout=10)


ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str, *args: str, env: dict[str, str], timeout: float) -> str:
    """``python -m module args`` from the repository root with ``env``; its stdout (it must exit 0)."""
    cmd = [sys.executable, "-m", module, *args]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
