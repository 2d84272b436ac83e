"""Shared fixtures. Paths only here; the JACK bench lives in tests/jackbench.py."""

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
