"""Drag-and-drop file conversion: a queue of jobs run one at a time on a worker QThread.

Each job builds its own voice (a fresh instance with the chosen settings), converts through
``models.offline`` (bounded memory, atomic write, never overwriting), reports progress, and can be
cancelled at any time. Output names never collide with existing files or with queued jobs.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
from PySide6.QtCore import QObject, Signal

from app.background import Worker
from models.base import Voice
from models.errors import VoxshiftError

log = logging.getLogger(__name__)

OUTPUT_SUFFIX = ".wav"


def audio_extensions() -> frozenset[str]:
    """Lower-case suffixes (".wav", ".flac", ...) of every format soundfile can read here."""
    exts = {f".{name.lower()}" for name in sf.available_formats()}
    exts |= {".aif", ".oga", ".opus"}  # common spellings of formats libsndfile lists as AIFF / OGG
    return frozenset(exts)


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in audio_extensions()


class ConversionCancelledError(VoxshiftError):
    """The user cancelled a conversion (no output is left behind)."""


@dataclass
class ConversionJob:
    """One dropped file. ``make_voice`` runs on the worker thread."""

    id: int
    source: Path
    target: Path
    voice_name: str
    make_voice: Callable[[], Voice]
    cancel_event: threading.Event = field(default_factory=threading.Event)


def run_conversion(job: ConversionJob, progress: Callable[[float], None]) -> Path:
    """Convert ``job.source`` into ``job.target`` with a fresh voice; returns the written path."""
    from models.offline import convert_file

    voice = job.make_voice()
    return Path(
        convert_file(
            job.source, job.target, voice, progress=progress, cancel=job.cancel_event, overwrite=False
        )
    )


@dataclass(frozen=True)
class _Outcome:
    """How a job ended: written to ``path``, failed with ``error``, or cancelled (neither)."""

    job_id: int
    path: Path | None = None
    error: str | None = None


class ConversionQueue(QObject):
    """Runs the jobs one at a time on a worker thread; signals are delivered on the GUI thread."""

    job_added = Signal(object)
    """ConversionJob"""
    job_started = Signal(int)
    job_progress = Signal(int, float)
    job_finished = Signal(int, str)
    job_failed = Signal(int, str)
    job_cancelled = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._jobs: dict[int, ConversionJob] = {}
        self._reserved: set[Path] = set()
        self._worker = Worker("conversion-worker", self)
        self._worker.finished.connect(self._on_ended)
        self._worker.failed.connect(self._on_crashed)
        self._tickets: dict[int, int] = {}
        """worker ticket -> job id"""

    def add(
        self, source: Path, output_dir: Path, voice_name: str, make_voice: Callable[[], Voice]
    ) -> ConversionJob:
        """Queue ``source``; its output goes to a new file in ``output_dir``."""
        output_dir.mkdir(parents=True, exist_ok=True)
        target = self._free_target(source, output_dir, voice_name)
        job = ConversionJob(next(self._ids), source, target, voice_name, make_voice)
        self._jobs[job.id] = job
        self._reserved.add(target)
        self.job_added.emit(job)
        self._tickets[self._worker.submit(lambda: self._run(job))] = job.id
        return job

    def cancel(self, job_id: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancel_event.set()

    def job(self, job_id: int) -> ConversionJob | None:
        return self._jobs.get(job_id)

    def pending(self) -> int:
        return len(self._reserved)

    def shutdown(self) -> None:
        """Cancel everything and wait for the worker to finish its current step."""
        for job in self._jobs.values():
            job.cancel_event.set()
        self._worker.stop()

    def _free_target(self, source: Path, output_dir: Path, voice_name: str) -> Path:
        safe_voice = "".join(c if c.isalnum() or c in "-_." else "_" for c in voice_name)
        stem = f"{source.stem} - {safe_voice}"
        for n in itertools.count(1):
            name = f"{stem}{OUTPUT_SUFFIX}" if n == 1 else f"{stem} ({n}){OUTPUT_SUFFIX}"
            candidate = output_dir / name
            if candidate.resolve() == source.resolve():
                continue
            if not candidate.exists() and candidate not in self._reserved:
                return candidate
        raise AssertionError("unreachable")

    def _run(self, job: ConversionJob) -> _Outcome:
        """On the worker thread: convert one job (the signals it emits reach the GUI thread queued)."""
        if job.cancel_event.is_set():
            return _Outcome(job.id)
        self.job_started.emit(job.id)
        last = -1.0

        def progress(fraction: float) -> None:
            nonlocal last
            if fraction - last >= 0.01 or fraction >= 1.0:
                last = fraction
                self.job_progress.emit(job.id, float(fraction))

        try:
            out = run_conversion(job, progress)
        except (VoxshiftError, OSError, ValueError, RuntimeError, sf.LibsndfileError) as err:
            if job.cancel_event.is_set():
                return _Outcome(job.id)
            log.warning("conversion of %s failed: %s", job.source, err)
            return _Outcome(job.id, error=str(err))
        if job.cancel_event.is_set() and not out.exists():
            return _Outcome(job.id)
        return _Outcome(job.id, path=out)

    def _on_crashed(self, ticket: int, message: str) -> None:
        """An error ``_run`` does not expect (a bug): the job fails with it instead of hanging."""
        self._on_ended(ticket, _Outcome(self._tickets.get(ticket, -1), error=message))

    def _on_ended(self, ticket: int, outcome: object) -> None:
        self._tickets.pop(ticket, None)
        if not isinstance(outcome, _Outcome):
            return
        job = self._jobs.get(outcome.job_id)
        if job is not None:
            self._reserved.discard(job.target)
        if outcome.path is not None:
            self.job_finished.emit(outcome.job_id, str(outcome.path))
        elif outcome.error is not None:
            self.job_failed.emit(outcome.job_id, outcome.error)
        else:
            self.job_cancelled.emit(outcome.job_id)
