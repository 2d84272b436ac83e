"""Recording what the listener hears (and, on request, the raw microphone) to timestamped files.

The audio callback copies every block it plays (and captures) into two rings while recording
(``audio/vxcallback.c``); :class:`Recorder` drains them on its own thread and writes them to disk.
Nothing of this runs in the callback or the worker, and neither ever waits for the disk: if the
recorder falls behind (a stalled disk), the rings drop what does not fit and count it.

The files are WAV (32-bit float: the samples exactly as played) written by :class:`WavWriter` so
that they are valid at every moment: the header first claims the largest sizes, which readers
take as "up to the end of the file", and the true sizes are written every few seconds and at the
end. A recording cut short by a crash, a kill or a power cut is still a playable WAV of everything
written. FLAC is made from the finished WAV when the recording stops normally (a FLAC file cut
short is unreadable), then the WAV is removed; until then the WAV is the recording.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

RecordFormat = Literal["wav", "flac"]
RING_SECONDS = 4.0
"""How much the callback can hand over while the recorder is away (a slow disk) before dropping."""
DRAIN_EVERY_S = 0.1
FIX_HEADER_EVERY_S = 2.0
_MAX_DATA = 0xFFFFFFFF - 36


class WavWriter:
    """A mono/multichannel 32-bit float WAV that is a valid file after every write."""

    def __init__(self, path: Path, rate: int, channels: int = 1) -> None:
        self.path = path
        self.rate = rate
        self.channels = channels
        self.frames = 0
        self._file = open(path, "xb")  # noqa: SIM115 - kept open for the recording's life
        self._file.write(self._header(_MAX_DATA))
        self._file.flush()
        self._last_fix = time.monotonic()

    def _header(self, data_bytes: int) -> bytes:
        block = 4 * self.channels
        return (
            b"RIFF"
            + struct.pack("<I", min(0xFFFFFFFF, 36 + data_bytes))
            + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 3, self.channels, self.rate, self.rate * block, block, 32)
            + b"data"
            + struct.pack("<I", min(0xFFFFFFFF, data_bytes))
        )

    def write(self, frames: np.ndarray) -> None:
        """Append ``frames`` (``[n]`` or ``[n, channels]``, float32); raises OSError (disk full)."""
        data = np.ascontiguousarray(frames, dtype="<f4")
        self._file.write(data.tobytes())
        self._file.flush()  # in the OS's hands: what a kill of this process cannot lose
        self.frames += len(data) if data.ndim > 1 else len(data) // self.channels
        if time.monotonic() - self._last_fix >= FIX_HEADER_EVERY_S:
            self.fix_header()

    def fix_header(self) -> None:
        """Write the true sizes (the file stays valid if we die between this and the next write)."""
        self._file.flush()
        end = self._file.tell()
        self._file.seek(0)
        self._file.write(self._header(self.frames * 4 * self.channels))
        self._file.seek(end)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._last_fix = time.monotonic()

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self.fix_header()
        finally:
            self._file.close()


@dataclass
class Recording:
    """What a recording produced (``paths``: output first, then the microphone if recorded)."""

    paths: list[Path]
    frames: int = 0
    dropped: int = 0
    """Frames the callback could not hand over because the recorder was behind (0 normally)."""
    error: str | None = None
    seconds: float = 0.0
    rate: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def timestamped(folder: Path, when: datetime, kind: str) -> Path:
    """``voxshift-YYYYmmdd-HHMMSS-<kind>.wav`` in ``folder``, with -2, -3 ... if taken."""
    stem = f"voxshift-{when:%Y%m%d-%H%M%S}"
    for n in range(1, 1000):
        name = f"{stem}-{kind}.wav" if n == 1 else f"{stem}-{n}-{kind}.wav"
        if not (folder / name).exists():
            return folder / name
    raise OSError(f"no free file name for a recording in {folder}")


class Recorder:
    """Drains the callback's recording rings into files on its own thread (see the module docstring).

    ``io`` is the stream state (``DuplexIO`` or ``NativeDuplexIO``) whose ``attach_recorder`` rings
    exist; ``start`` tells its callback to copy, ``stop`` to stop, and finishes the files.
    """

    def __init__(self, io: Any, rate: int) -> None:
        self.io = io
        self.rate = rate
        self.rec_out, self.rec_in = io.rec_out, io.rec_in
        self.recording: Recording | None = None
        self._writers: list[tuple[Any, WavWriter]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._format: RecordFormat = "wav"
        self._started = 0.0

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, folder: str | Path, *, with_input: bool = False, fmt: RecordFormat = "wav") -> Recording:
        """Start writing; returns the recording (its paths). Raises OSError if the folder fails."""
        if self.active:
            raise RuntimeError("already recording")
        if fmt not in ("wav", "flac"):
            raise ValueError(f"recording format must be wav or flac, got {fmt!r}")
        folder = Path(folder).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now()
        sides = [("output", self.rec_out)] + ([("input", self.rec_in)] if with_input else [])
        self._writers = []
        try:
            for kind, ring in sides:
                self._writers.append((ring, WavWriter(timestamped(folder, now, kind), self.rate)))
        except OSError:
            for _, writer in self._writers:
                writer.close()
                writer.path.unlink(missing_ok=True)
            raise
        for ring, _ in self._writers:
            ring.skip_to_written()  # only what is played from now on
        self._format = fmt
        self.recording = Recording([w.path for _, w in self._writers], rate=self.rate)
        self._stop.clear()
        self._started = time.monotonic()
        self._dropped0 = [ring.dropped_frames for ring, _ in self._writers]
        self.io.set_recording(2 if with_input else 1)
        self._thread = threading.Thread(target=self._run, name="voxshift-recorder", daemon=True)
        self._thread.start()
        return self.recording

    def _run(self) -> None:
        while not self._stop.wait(DRAIN_EVERY_S):
            if not self._drain():
                break
        self._drain()

    def _drain(self) -> bool:
        """Move what the callback handed over to the files; False after a write error (stopped)."""
        assert self.recording is not None
        try:
            for ring, writer in self._writers:
                n = ring.available_read
                if n:
                    buf = np.empty(n, dtype=np.float32)
                    ring.read(buf)
                    writer.write(buf)
        except OSError as exc:
            self.io.set_recording(0)
            where = exc.filename or "the file"
            self.recording.error = f"Recording stopped: could not write {where}: {exc.strerror or exc}"
            return False
        return True

    def stop(self) -> Recording | None:
        """Stop, write the last frames, close the files (FLAC made now if asked); the recording."""
        recording = self.recording
        if recording is None:
            return None
        self.io.set_recording(0)
        # a callback that read the flag before it changed finishes its copy before the next begins
        calls, deadline = self.io.callbacks, time.monotonic() + 0.5
        while self.io.callbacks < calls + 2 and time.monotonic() < deadline:
            time.sleep(0.002)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None
        for (ring, writer), before in zip(self._writers, self._dropped0, strict=True):
            try:
                writer.close()
            except OSError as exc:
                recording.error = recording.error or f"Recording could not be finished: {exc}"
            recording.dropped += ring.dropped_frames - before
        recording.frames = self._writers[0][1].frames if self._writers else 0
        recording.seconds = recording.frames / self.rate
        if self._format == "flac" and recording.error is None:
            recording.paths = [_to_flac(path) for path in recording.paths]
        self.recording = None
        self._writers = []
        return recording


def _to_flac(wav: Path) -> Path:
    """The finished WAV as FLAC (written to a temporary name, then renamed), the WAV removed."""
    import soundfile as sf

    flac = wav.with_suffix(".flac")
    tmp = flac.with_name(f".{flac.name}.part")
    try:
        data, rate = sf.read(wav, dtype="float32")
        sf.write(tmp, data, rate, format="FLAC", subtype="PCM_24")
        os.replace(tmp, flac)
    except (OSError, RuntimeError):
        tmp.unlink(missing_ok=True)
        return wav  # the WAV stays the recording
    wav.unlink()
    return flac
