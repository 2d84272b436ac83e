"""Where the app keeps its files: the data folder (voices, log) and the QSettings identity.

Tests and portable installs override the data folder with ``VOXSHIFT_DATA_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ORGANIZATION = "Voxshift"
APPLICATION = "Voxshift"
DATA_DIR_ENV = "VOXSHIFT_DATA_DIR"


def data_dir() -> Path:
    """The app's data folder (created on first use)."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir(APPLICATION, ORGANIZATION))
    path.mkdir(parents=True, exist_ok=True)
    return path


def voices_dir() -> Path:
    """User voices: one sub-folder per imported voice, with a ``voice.json`` card."""
    path = data_dir() / "voices"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_models_dir() -> Path:
    """Shared model files every RVC voice needs (HuBERT/ContentVec, RMVPE)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_file() -> Path:
    return data_dir() / "voxshift.log"


def default_output_dir() -> Path:
    """Where converted files go unless the user chose another folder."""
    return Path(platformdirs.user_music_dir()) / "Voxshift"
