"""Pitch-shift accuracy of a streaming voice, measured with librosa (an independent tracker).

f0: ``librosa.yin`` on input and output (the output aligned by the voice's latency), compared on
frames that ``librosa.pyin`` calls voiced in both, away from voicing edges. Used by
``tests/models/test_builtin_accuracy.py`` (which asserts bounds) and ``bench/builtin.py`` (which
prints them).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from scipy import signal

from models.base import Voice, VoiceParams

SHIFTS = (-7.0, -3.0, 4.0, 12.0)
"""Pitch shifts (semitones) the accuracy is measured at."""


def convert(voice: Voice, x: np.ndarray) -> np.ndarray:
    """Stream ``x`` through ``voice`` hop by hop and return the output aligned with the input."""
    hop = voice.hop
    padded = np.concatenate((x, np.zeros(voice.latency + hop, np.float32)))
    state = voice.init_state()
    out = []
    for i in range(0, len(padded) - hop + 1, hop):
        y, state = voice.step(padded[i : i + hop], state)
        out.append(y)
    return np.concatenate(out)[voice.latency : voice.latency + len(x)]


def f0_track(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(yin f0 [frames], pyin voiced flag [frames]) at 16 kHz, 64 ms frames, 16 ms hop."""
    y = signal.resample_poly(x.astype(np.float64), 16000, sr)
    f0 = librosa.yin(y, fmin=50.0, fmax=1100.0, sr=16000, frame_length=1024, hop_length=256)
    _, voiced, _ = librosa.pyin(y, fmin=50.0, fmax=1100.0, sr=16000, frame_length=1024, hop_length=256)
    return f0, voiced


def stable(voiced: np.ndarray, margin: int = 2) -> np.ndarray:
    """Voiced frames with ``margin`` voiced neighbours on each side."""
    out = voiced.copy()
    for k in range(1, margin + 1):
        out[k:] &= voiced[:-k]
        out[:-k] &= voiced[k:]
        out[:k] = out[-k:] = False
    return out


def cents_errors(
    x: np.ndarray,
    sr: int,
    voice: Voice,
    shifts: tuple[float, ...] = SHIFTS,
    steady: np.ndarray | None = None,
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Per shift: |output f0 - shifted input f0| in cents on frames voiced in both, and which
    of those frames are in ``steady`` (all if None).

    Raises ValueError when the output is voiced on less than half the input's stable frames
    (a voice that lost the pitch cannot be measured this way).
    """
    f_in, v_in = f0_track(x, sr)
    frames = stable(v_in)
    steady = np.ones_like(frames) if steady is None else steady
    errors = {}
    for semitones in shifts:
        voice.set_params(VoiceParams(pitch=semitones))
        f_out, v_out = f0_track(convert(voice, x), sr)
        both = frames & v_out
        if both.sum() <= 0.5 * frames.sum():
            raise ValueError(f"{semitones:+g} st: output voiced on too few frames")
        err = np.abs(1200 * np.log2(f_out[both] / f_in[both]) - 100 * semitones)
        errors[semitones] = (err, steady[both])
    return errors


def espeak(args: list[str], folder: Path) -> tuple[np.ndarray, int]:
    """An English sentence from espeak-ng (``args``: its options, e.g. ``["-p", "70"]``), float32
    at its native rate; ``folder`` holds the temporary wav."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is required (apt install espeak-ng)")
    path = folder / "speech.wav"
    text = "Hello there, how are you doing today? This is a test of the voice changer."
    subprocess.run([exe, *args, "-w", str(path), text], check=True, capture_output=True, timeout=60)
    x, sr = sf.read(path, dtype="float32")
    return x, sr
