"""Dataset preparation: cut recordings at silences into slices of a few seconds, normalise loudness,
resample to the model rate and to 16 kHz, keyed by content so a rerun skips finished files.

Layout under ``<exp>/prepared``::

    gt/<key>_<i>.wav      slices at the model rate (float32)
    16k/<key>_<i>.wav     the same slices at 16 kHz (content and pitch features)
    done/<key>.json       the slice names of one source file; written last, so a killed run redoes it

``key`` hashes the file's bytes and every preparation setting: an edited or re-encoded file is
prepared again, an unchanged one never is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from training.fsutil import atomic_path, atomic_write_text
from training.report import DatasetReport

PREP_VERSION = 1


@dataclass(frozen=True)
class SliceConfig:
    """How recordings are cut and levelled (defaults follow the reference's slicer)."""

    sample_rate: int = 40000
    slice_seconds: float = 3.7
    overlap_seconds: float = 0.3
    min_seconds: float = 0.6
    """Pieces of speech shorter than this are dropped (breaths, clicks)."""
    silence_db: float = -42.0
    min_silence_seconds: float = 0.4
    keep_silence_seconds: float = 0.25
    """Silence kept at each side of a cut."""
    target_rms_db: float = -20.0
    peak_limit: float = 0.95
    highpass_hz: float = 48.0


def content_key(path: Path, cfg: SliceConfig) -> str:
    """sha256 of the file bytes and the preparation settings (16 hex digits)."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": PREP_VERSION, **asdict(cfg)}, sort_keys=True).encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling of a 1-D float32 signal."""
    if sr_in == sr_out:
        return x.astype(np.float32, copy=False)
    g = gcd(sr_in, sr_out)
    return signal.resample_poly(x, sr_out // g, sr_in // g).astype(np.float32)


def voiced_regions(x: np.ndarray, sr: int, cfg: SliceConfig) -> list[tuple[int, int]]:
    """[start, end) sample ranges between silences of at least ``min_silence_seconds``."""
    frame = max(1, sr // 100)
    n = len(x) // frame
    if n == 0:
        return []
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = 20 * np.log10(rms) >= cfg.silence_db
    min_gap = max(1, round(cfg.min_silence_seconds * 100))
    keep = round(cfg.keep_silence_seconds * 100)
    regions: list[tuple[int, int]] = []
    idx = np.flatnonzero(loud)
    if len(idx) == 0:
        return []
    start = prev = int(idx[0])
    for i in idx[1:]:
        if i - prev > min_gap:
            regions.append((start, prev + 1))
            start = int(i)
        prev = int(i)
    regions.append((start, prev + 1))
    return [(max(0, (a - keep)) * frame, min(n, b + keep) * frame) for a, b in regions]


def split_long(start: int, end: int, sr: int, cfg: SliceConfig) -> list[tuple[int, int]]:
    """Cuts one region into pieces of ``slice_seconds`` overlapping by ``overlap_seconds``."""
    per = int(cfg.slice_seconds * sr)
    step = per - int(cfg.overlap_seconds * sr)
    out = []
    pos = start
    while end - pos > per + int(cfg.overlap_seconds * sr):
        out.append((pos, pos + per))
        pos += step
    out.append((pos, end))
    return [(a, b) for a, b in out if b - a >= int(cfg.min_seconds * sr)]


def normalise(x: np.ndarray, cfg: SliceConfig) -> np.ndarray | None:
    """Scales a slice to the target RMS with its peak under ``peak_limit``; None if it is silent."""
    rms = float(np.sqrt(np.mean(x**2)))
    peak = float(np.abs(x).max(initial=0.0))
    if rms < 1e-5 or peak < 1e-4:
        return None
    gain = min(10 ** (cfg.target_rms_db / 20) / rms, cfg.peak_limit / peak)
    return (x * gain).astype(np.float32)


def load_mono(path: Path, sr: int, cfg: SliceConfig) -> np.ndarray:
    """The whole file as mono float32 at ``sr``, high-passed (rumble and DC off)."""
    audio, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = audio.mean(axis=1)
    sos = signal.butter(5, cfg.highpass_hz, btype="high", fs=file_sr, output="sos")
    x = signal.sosfilt(sos, x).astype(np.float32)
    return resample(x, int(file_sr), sr)


def slice_file(path: Path, key: str, out_dir: Path, cfg: SliceConfig) -> list[str]:
    """Prepares one file; returns its slice names (without extension)."""
    x = load_mono(path, cfg.sample_rate, cfg)
    names: list[str] = []
    for region in voiced_regions(x, cfg.sample_rate, cfg):
        for a, b in split_long(*region, cfg.sample_rate, cfg):
            piece = normalise(x[a:b], cfg)
            if piece is None:
                continue
            name = f"{key}_{len(names)}"
            _write_wav(out_dir / "gt" / f"{name}.wav", piece, cfg.sample_rate)
            _write_wav(out_dir / "16k" / f"{name}.wav", resample(piece, cfg.sample_rate, 16000), 16000)
            names.append(name)
    atomic_write_text(out_dir / "done" / f"{key}.json", json.dumps({"source": str(path), "slices": names}))
    return names


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    with atomic_path(path, suffix=".wav") as tmp:
        sf.write(str(tmp), x, sr, subtype="FLOAT", format="WAV")


@dataclass(frozen=True)
class PreparedSet:
    """Slice names of a prepared dataset, in source order."""

    root: Path
    names: list[str]
    reused: int
    """How many source files came from the cache."""

    def gt(self, name: str) -> Path:
        return self.root / "gt" / f"{name}.wav"

    def wav16k(self, name: str) -> Path:
        return self.root / "16k" / f"{name}.wav"


def prepare_dataset(
    report: DatasetReport,
    out_dir: Path,
    cfg: SliceConfig,
    progress: Callable[[int, int], None] | None = None,
) -> PreparedSet:
    """Slices every usable file of ``report`` into ``out_dir``, reusing finished files."""
    names: list[str] = []
    reused = 0
    for i, f in enumerate(report.files):
        path = Path(f.path)
        key = content_key(path, cfg)
        done = out_dir / "done" / f"{key}.json"
        if done.is_file():
            names.extend(json.loads(done.read_text(encoding="utf-8"))["slices"])
            reused += 1
        else:
            names.extend(slice_file(path, key, out_dir, cfg))
        if progress is not None:
            progress(i + 1, len(report.files))
    return PreparedSet(out_dir, names, reused)
