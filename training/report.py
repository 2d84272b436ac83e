"""Dataset report: what is in a folder of recordings, before anything runs.

Every file soundfile can open is measured (duration, rate, clipping, long silences); every other
file is listed as rejected with the reason. The report ends with warnings in plain words, such as
too little audio for RVC (about 10 minutes or more is recommended).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

MIN_RECOMMENDED_SECONDS = 600.0
"""RVC wants about 10 minutes or more of clean speech or singing."""
MIN_FILE_SECONDS = 0.5
CLIP_LEVEL = 0.999
CLIP_FRACTION_WARN = 1e-3
SILENCE_DB = -50.0
LONG_SILENCE_SECONDS = 2.0
BLOCK_FRAMES = 1 << 18


@dataclass(frozen=True)
class FileReport:
    """Measurements of one readable file."""

    path: str
    duration: float
    sample_rate: int
    channels: int
    peak: float
    clipped_fraction: float
    longest_silence: float
    """Longest run of near-silence (under -50 dBFS RMS over 10 ms), seconds."""

    @property
    def problems(self) -> list[str]:
        out = []
        if self.clipped_fraction > CLIP_FRACTION_WARN:
            out.append(f"clipped ({100 * self.clipped_fraction:.2f}% of samples at full scale)")
        if self.longest_silence >= LONG_SILENCE_SECONDS:
            out.append(f"long silence ({self.longest_silence:.1f} s; it is cut out)")
        return out


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str


@dataclass(frozen=True)
class DatasetReport:
    """The whole folder: usable files, rejected files and plain-words warnings."""

    root: str
    files: list[FileReport] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return float(sum(f.duration for f in self.files))

    @property
    def sample_rates(self) -> list[int]:
        return sorted({f.sample_rate for f in self.files})

    @property
    def ok(self) -> bool:
        """True when there is something to train on (warnings may still apply)."""
        return bool(self.files)

    @property
    def warnings(self) -> list[str]:
        out = []
        if not self.files:
            out.append(f"no usable audio in {self.root}")
        elif self.total_seconds < MIN_RECOMMENDED_SECONDS:
            out.append(
                f"only {self.total_seconds / 60:.1f} minutes of audio: RVC wants about 10 minutes or more; "
                "the voice will sound rough"
            )
        if len(self.sample_rates) > 1:
            rates = ", ".join(str(r) for r in self.sample_rates)
            out.append(f"mixed sample rates ({rates} Hz): all are resampled to the model rate")
        if self.rejected:
            out.append(f"{len(self.rejected)} file(s) skipped (listed above)")
        clipped = [f for f in self.files if f.clipped_fraction > CLIP_FRACTION_WARN]
        if clipped:
            out.append(f"{len(clipped)} file(s) are clipped: distortion will be learned as part of the voice")
        return out

    def summary(self) -> str:
        """A multi-line, human-readable report."""
        lines = [f"{len(self.files)} file(s), {self.total_seconds / 60:.1f} minutes in {self.root}"]
        for f in self.files:
            if f.problems:
                lines.append(f"  {f.path}: {'; '.join(f.problems)}")
        for r in self.rejected:
            lines.append(f"  skipped {r.path}: {r.reason}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def iter_files(root: Path) -> Iterator[Path]:
    """All regular, non-hidden files under ``root``, sorted for a stable order."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True values in a 1-D bool array."""
    if not mask.any():
        return 0
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


def measure_file(path: Path) -> FileReport:
    """Reads ``path`` block by block; raises ``RuntimeError``/``sf.LibsndfileError`` if unreadable."""
    info = sf.info(str(path))
    if info.frames <= 0 or info.samplerate <= 0:
        raise ValueError("contains no audio")
    frame = max(1, info.samplerate // 100)
    peak = 0.0
    clipped = 0
    silent_runs: list[np.ndarray] = []
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(blocksize=BLOCK_FRAMES - BLOCK_FRAMES % frame, dtype="float32", always_2d=True):
            mono = block.mean(axis=1)
            if not np.isfinite(mono).all():
                raise ValueError("contains NaN or infinite samples")
            peak = max(peak, float(np.abs(block).max(initial=0.0)))
            clipped += int((np.abs(block) >= CLIP_LEVEL).any(axis=1).sum())
            n = len(mono) // frame * frame
            rms = np.sqrt(np.mean(mono[:n].reshape(-1, frame) ** 2, axis=1) + 1e-12)
            silent_runs.append(20 * np.log10(rms) < SILENCE_DB)
    silent = np.concatenate(silent_runs) if silent_runs else np.zeros(0, bool)
    return FileReport(
        path=str(path),
        duration=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        peak=peak,
        clipped_fraction=clipped / info.frames,
        longest_silence=_longest_run(silent) * frame / info.samplerate,
    )


def scan_dataset(root: str | Path, progress: Callable[[int, int], None] | None = None) -> DatasetReport:
    """Measures every file under ``root``; unreadable, empty, too short or silent files are rejected."""
    root = Path(root)
    if not root.is_dir():
        return DatasetReport(str(root), [], [Rejected(str(root), "is not a folder")])
    paths = list(iter_files(root))
    files: list[FileReport] = []
    rejected: list[Rejected] = []
    for i, path in enumerate(paths):
        try:
            report = measure_file(path)
        except (RuntimeError, ValueError, OSError, sf.LibsndfileError) as exc:
            rejected.append(Rejected(str(path), f"unreadable ({_first_line(exc)})"))
        else:
            if report.duration < MIN_FILE_SECONDS:
                rejected.append(Rejected(str(path), f"too short ({report.duration:.2f} s)"))
            elif report.peak < 10 ** (SILENCE_DB / 20):
                rejected.append(Rejected(str(path), "silent"))
            else:
                files.append(report)
        if progress is not None:
            progress(i + 1, len(paths))
    return DatasetReport(str(root), files, rejected)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
