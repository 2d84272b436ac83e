"""Shared fixtures. Paths only here; the JACK bench lives in benchkit/jackbench.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
REFERENCE = FIXTURES / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """Manifests, golden outputs and pipeline inputs copied from the reference runs."""
    return REFERENCE


@pytest.fixture(scope="session")
def jack_server():
    """Factory ``jack_server(rate=48000, period=256, fresh=False) -> JackServer`` (benchkit/jackbench.py).

    The shared server is started on first use (and restarted for another rate/period), made the
    default for PortAudio in this process, and stopped by PID at the end of the session.
    """
    from benchkit.jackbench import JackPool

    pool = JackPool()
    yield pool.get
    pool.close()
