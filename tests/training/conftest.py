"""Fixtures: generated speech (espeak-ng) and a tiny HuBERT-format content encoder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REFERENCE

SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things from the store.",
    "She sells sea shells by the sea shore, and the shells are surely real.",
    "A voice changer needs clean recordings of at least ten minutes of speech.",
)


def speak(text: str, path: Path, rate: int = 22050, voice: str = "en") -> Path:
    """espeak-ng speech resampled to ``rate`` (float32 wav)."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True, capture_output=True)
    audio, sr = sf.read(str(raw), dtype="float32")
    raw.unlink()
    if sr != rate:
        from scipy.signal import resample_poly

        audio = resample_poly(audio, rate, sr).astype(np.float32)
    sf.write(str(path), audio, rate)
    return path


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required for the training tests (apt install espeak-ng)")
    root = tmp_path_factory.mktemp("speech")
    for i, text in enumerate(SENTENCES):
        speak(text, root / f"s{i}.wav", rate=(22050, 16000, 44100, 22050)[i])
    return root


@pytest.fixture(scope="session")
def tiny_hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HuBERT-base-format file with narrow layers (9 blocks, final_proj to 256: RVC v1)."""
    from models.content.testing import write_tiny_hubert

    path = tmp_path_factory.mktemp("hubert") / "hubert_tiny.pt"
    return write_tiny_hubert(path, REFERENCE / "manifest_hubert_base.json")
