"""Whole-file conversion with the same voice code as realtime.

:func:`convert_file` reads any file soundfile reads, mixes it down to mono, resamples it to the
voice's rate, streams it through ``voice.step`` hop by hop, drops the voice's ``latency`` so the
output lines up with the input (same length), resamples back and writes a WAV/FLAC/OGG file at
the input's rate. Memory stays bounded (blockwise read, resample and write).

An object with ``convert_array(x, sr) -> (y, sr_out)`` (:class:`ArrayConverter`, e.g. the RVC
reference pipeline) is accepted instead of a streaming voice; it gets the whole mono signal.

Outputs are written to a temporary file in the destination folder and moved into place with
``os.replace`` only when complete: a failure or a cancel leaves no partial file, an input is
never overwritten, an existing output only with ``overwrite=True``.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import soundfile as sf

from dsp.resample import ChunkResampler
from models.base import Voice
from models.errors import VoxshiftError

ProgressCallback = Callable[[float], None]


class ConversionError(VoxshiftError):
    """A file could not be converted (the message says which and why)."""


class AudioReadError(ConversionError):
    """The input is missing, unreadable or not audio."""


class OutputExistsError(ConversionError):
    """The output exists and overwriting was not asked for, or it would replace the input."""


class ConversionCancelledError(ConversionError):
    """The user cancelled; nothing was written."""


@runtime_checkable
class ArrayConverter(Protocol):
    """A whole-signal converter (e.g. the RVC reference pipeline)."""

    def convert_array(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        """Convert mono float32 ``x`` ``[n]`` at ``sr`` Hz; returns ``(y [m], sr_out)``."""
        ...


@dataclass(frozen=True)
class ConvertOptions:
    """Tunables of file conversion."""

    block_frames: int = 1 << 16
    """Frames read per block (bounds memory)."""
    subtype: str = "PCM_16"
    """Output sample format (soundfile subtype); PCM output is clipped to ±1."""

    def __post_init__(self) -> None:
        if self.block_frames < 256:
            raise ValueError("block_frames must be at least 256")


def convert_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    voice: Voice | ArrayConverter,
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    options: ConvertOptions | None = None,
) -> Path:
    """Convert ``src`` with ``voice`` into ``dst`` (written atomically); returns ``dst``.

    ``progress(done_fraction)`` is called as blocks complete; setting ``cancel`` stops the
    conversion with :class:`ConversionCancelledError` and leaves no file behind.
    """
    opts = options or ConvertOptions()
    src_path, dst_path = Path(src), Path(dst)
    _check_paths(src_path, dst_path, overwrite)
    fmt = _output_format(dst_path)
    report = progress or (lambda _f: None)
    stop = cancel or threading.Event()
    with _open_input(src_path) as reader:
        rate, frames = reader.samplerate, reader.frames
        tmp = dst_path.parent / f".{dst_path.name}.{uuid.uuid4().hex[:8]}.partial"
        try:
            with sf.SoundFile(tmp, "w", rate, 1, opts.subtype, format=fmt) as writer:
                if isinstance(voice, Voice):
                    blocks = _stream_voice(reader, voice, opts, report, stop)
                else:
                    blocks = _convert_whole(reader, voice, report, stop)
                written = 0
                for block in blocks:
                    block = block[: max(0, frames - written)]
                    writer.write(block.astype(np.float32))
                    written += block.shape[0]
                if written < frames:
                    writer.write(np.zeros(frames - written, dtype=np.float32))
            _check_paths(src_path, dst_path, overwrite)
            os.replace(tmp, dst_path)
        finally:
            tmp.unlink(missing_ok=True)
    report(1.0)
    return dst_path


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    """Refuse to overwrite the input, or an existing output unless asked."""
    if not src.is_file():
        raise AudioReadError(f"{src}: no such file.")
    if dst.resolve() == src.resolve() or (dst.exists() and os.path.samefile(dst, src)):
        raise OutputExistsError(f"{dst}: the output would replace its own input; choose another name.")
    if dst.exists() and not overwrite:
        raise OutputExistsError(f"{dst} already exists; pass --overwrite (overwrite=True) to replace it.")
    if not dst.parent.is_dir():
        raise ConversionError(f"{dst.parent}: output folder does not exist.")


def _output_format(dst: Path) -> str:
    fmt = dst.suffix[1:].upper()
    if fmt not in {"WAV", "FLAC", "OGG"}:
        raise ConversionError(f"{dst}: unsupported output type {dst.suffix!r}; use .wav, .flac or .ogg.")
    return fmt


def _open_input(path: Path) -> sf.SoundFile:
    try:
        reader = sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioReadError(f"{path}: not a readable audio file ({_reason(exc)}).") from exc
    if reader.frames <= 0:
        reader.close()
        raise AudioReadError(f"{path}: the file holds no audio samples.")
    return reader


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _read_mono(reader: sf.SoundFile, block: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks ``[<= block]`` of the whole file."""
    try:
        for data in reader.blocks(blocksize=block, dtype="float32", always_2d=True):
            yield data.mean(axis=1, dtype=np.float32)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioReadError(f"{reader.name}: read failed ({_reason(exc)}).") from exc


def _stream_voice(
    reader: sf.SoundFile, voice: Voice, opts: ConvertOptions, report: ProgressCallback, stop: threading.Event
) -> Iterator[np.ndarray]:
    """Output blocks at the file rate, aligned with the input (latency dropped)."""
    rate, frames = reader.samplerate, reader.frames
    to_voice = ChunkResampler(rate, voice.sample_rate)
    to_file = ChunkResampler(voice.sample_rate, rate)
    runner = _HopRunner(voice)
    done = 0
    for block in _read_mono(reader, opts.block_frames):
        if stop.is_set():
            raise ConversionCancelledError(f"{reader.name}: conversion cancelled.")
        yield to_file.push(runner.push(to_voice.push(block)))
        done += block.shape[0]
        report(min(done / frames, 1.0) * 0.99)
    yield to_file.push(runner.push(to_voice.flush()))
    yield to_file.push(runner.finish())
    yield to_file.flush()


class _HopRunner:
    """Feeds a voice exactly ``hop`` samples at a time and removes its ``latency``."""

    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self.state: Any = voice.init_state()
        self.pending = np.zeros(0, dtype=np.float32)
        self.to_skip = voice.latency
        self.fed = 0
        """Real input samples pushed so far."""
        self.emitted = 0
        """Latency-compensated output samples returned so far."""

    def push(self, x: np.ndarray, real: bool = True) -> np.ndarray:
        """Voice output (latency-compensated) for every full hop now available."""
        hop = self.voice.hop
        data = np.concatenate((self.pending, x.astype(np.float32)))
        if real:
            self.fed += x.shape[0]
        n_hops = data.shape[0] // hop
        outs = [np.zeros(0)]
        for i in range(n_hops):
            y, self.state = self.voice.step(data[i * hop : (i + 1) * hop], self.state)
            outs.append(np.asarray(y, dtype=np.float64))
        self.pending = data[n_hops * hop :]
        out = np.concatenate(outs)
        skip = min(self.to_skip, out.shape[0])
        self.to_skip -= skip
        self.emitted += out.shape[0] - skip
        return out[skip:]

    def finish(self) -> np.ndarray:
        """Flush with silence until the output covers every input sample; trimmed to the input length."""
        parts = [np.zeros(0)]
        silence = np.zeros(self.voice.hop, dtype=np.float32)
        while self.emitted < self.fed:
            parts.append(self.push(silence, real=False))
        out = np.concatenate(parts)
        return out[: out.shape[0] - (self.emitted - self.fed)]


def _convert_whole(
    reader: sf.SoundFile, converter: ArrayConverter, report: ProgressCallback, stop: threading.Event
) -> Iterator[np.ndarray]:
    """Whole-signal conversion through ``converter.convert_array``, back at the file rate.

    Holds the signal once at the file rate (float32) and the converter's output; the way back
    to the file rate is streamed in blocks to the writer.
    """
    rate = reader.samplerate
    want = getattr(converter, "input_rate", None)
    if isinstance(want, int) and want != rate:
        # the converter works at its own rate (RVC: 16 kHz): resample while reading, so the
        # file-rate signal never sits in memory during the conversion
        to_want = ChunkResampler(rate, want)
        parts = [to_want.push(block).astype(np.float32) for block in _read_mono(reader, 1 << 16)]
        parts.append(to_want.flush().astype(np.float32))
        x = np.concatenate(parts)
        del parts
        rate = want
    else:
        x = np.empty(reader.frames, dtype=np.float32)
        n = 0
        for block in _read_mono(reader, 1 << 16):
            x[n : n + block.shape[0]] = block
            n += block.shape[0]
        x = x[:n]
    report(0.05)
    if stop.is_set():
        raise ConversionCancelledError(f"{reader.name}: conversion cancelled.")
    y, sr_out = converter.convert_array(x, rate)
    del x
    if stop.is_set():
        raise ConversionCancelledError(f"{reader.name}: conversion cancelled.")
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    report(0.95)
    if sr_out == reader.samplerate:
        yield y[: reader.frames]
        return
    resampler = ChunkResampler(sr_out, reader.samplerate)
    step = 1 << 16
    for i in range(0, y.shape[0], step):
        yield resampler.push(y[i : i + step])
    yield resampler.flush()
