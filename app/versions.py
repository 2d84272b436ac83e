"""Versions of Voxshift and the libraries it stands on (for --version and the About box)."""

from __future__ import annotations

import platform
from importlib import metadata

PACKAGES = ("torch", "torchaudio", "numpy", "sounddevice", "PySide6-Essentials", "faiss-cpu")


def version_report() -> str:
    lines = [f"voxshift {_version('voxshift')}", f"python {platform.python_version()}"]
    lines += [f"{name} {_version(name)}" for name in PACKAGES]
    return "\n".join(lines)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"
