"""Measure the real round trip of an output -> input loopback (a cable or a virtual loopback).

``measure_loopback`` opens its own short duplex stream (the engine's stream must be closed on
these devices: the caller stops and restarts the engine), plays a seeded white-noise probe at a
moderate level, records the input in the same callback, and finds the lag by FFT
cross-correlation. The result is the engine-independent round trip of the devices: what the
device buffers, converters and the cable add, which the engine's hop, prefill, resampler and
voice delay come on top of.

The callback only copies: samples from a preallocated play buffer to the output and from the
input into a preallocated record buffer, and advances a counter. Nothing is allocated there.

Without a loopback the correlation peak does not stand out from the noise floor and
``LoopbackError`` says what to connect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sounddevice as sd
from scipy import signal

from audio.devices import DeviceError
from models.errors import VoxshiftError

NO_LOOPBACK = (
    "no loopback found: connect the output to the input (a cable, or a virtual loopback) and try again"
)


class LoopbackError(VoxshiftError):
    """The probe did not come back on the input (no loopback, or far too quiet / noisy)."""


@dataclass(frozen=True)
class LoopbackConfig:
    """How the probe is played and judged.

    ``seconds`` is the whole recording; the probe takes ``probe_fraction`` of it after
    ``lead_seconds`` of silence, the rest leaves room for the lag (the longest measurable lag is
    ``seconds * (1 - probe_fraction) - lead_seconds``). ``min_peak_ratio`` is how far the
    correlation peak must stand above the RMS of the correlation elsewhere (white noise against
    an unrelated recording stays below ~5).
    """

    seconds: float = 1.0
    probe_fraction: float = 0.4
    lead_seconds: float = 0.05
    level_db: float = -18.0
    seed: int = 1234
    min_peak_ratio: float = 12.0
    blocksize: int = 0
    latency: float | str = "low"


@dataclass(frozen=True)
class LoopbackResult:
    """One measurement. ``lag_frames`` is output-to-input at ``samplerate`` (device round trip)."""

    lag_frames: int
    samplerate: int
    correlation: float
    """Pearson correlation of the probe with the recording at the lag (1.0 = a clean copy)."""
    confidence: float
    """Correlation peak over the RMS of the correlation elsewhere (bigger = surer)."""
    reported_latency: float
    """What PortAudio reported for the stream (input + output), seconds, for comparison."""

    @property
    def lag_seconds(self) -> float:
        return self.lag_frames / self.samplerate


def probe_signal(n: int, level_db: float, seed: int) -> np.ndarray:
    """Seeded white noise, RMS ``level_db`` dBFS, clipped at 4 sigma. Returns float32 ``[n]``."""
    rms = 10.0 ** (level_db / 20.0)
    x = np.random.default_rng(seed).standard_normal(n)
    return (rms * np.clip(x, -4.0, 4.0)).astype(np.float32)


class _Recorder:
    """Callback state: plays ``play`` once the stream is armed and records into ``rec`` in step."""

    def __init__(self, play: np.ndarray) -> None:
        self.play = play
        self.rec = np.zeros_like(play)
        self.pos = 0
        self.armed = False
        self.callback_errors = 0

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """Copy only: play -> every output channel, input channel 0 -> rec (while armed)."""
        try:
            pos, n = self.pos, len(self.play)
            k = max(0, min(frames, n - pos)) if self.armed else 0
            outdata[:k, 0] = self.play[pos : pos + k]
            outdata[k:, 0] = 0.0
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            self.rec[pos : pos + k] = indata[:k, 0]
            self.pos = pos + k
        except Exception:  # never stop the stream from the callback: count it, play silence
            self.callback_errors += 1
            outdata.fill(0.0)

    @property
    def done(self) -> bool:
        return self.pos >= len(self.play)


def find_lag(probe: np.ndarray, rec: np.ndarray) -> tuple[int, float, float]:
    """Lag of ``probe`` [P] inside ``rec`` [N]: (lag frames, Pearson correlation, peak ratio)."""
    corr = signal.correlate(rec.astype(np.float64), probe.astype(np.float64), mode="full", method="fft")
    lags = signal.correlation_lags(len(rec), len(probe), mode="full")
    keep = (lags >= 0) & (lags <= len(rec) - len(probe) // 2)
    corr, lags = np.abs(corr[keep]), lags[keep]
    if not corr.size or not np.any(corr > 0):
        return 0, 0.0, 0.0
    best = int(np.argmax(corr))
    rest = np.concatenate([corr[: max(0, best - 64)], corr[best + 65 :]])
    floor = float(np.sqrt(np.mean(rest**2))) if rest.size else 0.0
    ratio = float(corr[best] / floor) if floor > 0 else float("inf")
    lag = int(lags[best])
    m = min(len(probe), len(rec) - lag)
    a, b = probe[:m].astype(np.float64), rec[lag : lag + m].astype(np.float64)
    denom = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return lag, (float(np.sum(a * b)) / denom if denom > 0 else 0.0), ratio


def measure_loopback(
    input_device: int | None,
    output_device: int | None,
    samplerate: int,
    *,
    seconds: float | None = None,
    blocksize: int | None = None,
    config: LoopbackConfig | None = None,
    on_stream_open: Callable[[], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> LoopbackResult:
    """Play a probe on ``output_device``, record ``input_device``, return the measured round trip.

    ``seconds`` / ``blocksize`` override those of ``config`` (default ``LoopbackConfig()``).
    ``on_stream_open`` runs once the stream is running, before the probe starts (a test connects
    JACK ports there). ``cancel`` is polled while recording; returning True raises LoopbackError.
    Raises DeviceError when the devices cannot be opened, LoopbackError without a loopback.
    """
    cfg = config or LoopbackConfig()
    if seconds is not None:
        cfg = replace(cfg, seconds=seconds)
    if blocksize is not None:
        cfg = replace(cfg, blocksize=blocksize)
    n = round(cfg.seconds * samplerate)
    start = round(cfg.lead_seconds * samplerate)
    probe = probe_signal(int(n * cfg.probe_fraction), cfg.level_db, cfg.seed)
    play = np.zeros(n, dtype=np.float32)
    play[start : start + len(probe)] = probe
    recorder = _Recorder(play)
    rec, reported = _record(recorder, input_device, output_device, samplerate, cfg, on_stream_open, cancel)
    lag, corr, ratio = find_lag(probe, rec[start:])
    if ratio < cfg.min_peak_ratio or not np.isfinite(corr):
        raise LoopbackError(f"{NO_LOOPBACK} (correlation peak {ratio:.1f}x the noise floor).")
    return LoopbackResult(lag, samplerate, corr, ratio, reported)


def _record(
    recorder: _Recorder,
    input_device: int | None,
    output_device: int | None,
    samplerate: int,
    cfg: LoopbackConfig,
    on_stream_open: Callable[[], None] | None,
    cancel: Callable[[], bool] | None,
) -> tuple[np.ndarray, float]:
    """Run the duplex stream until the play buffer is through; returns (recording, PA latency)."""
    out_ch = 1
    if output_device is not None:
        out_ch = min(2, max(1, int(sd.query_devices(output_device)["max_output_channels"])))
    try:
        stream = sd.Stream(
            device=(input_device, output_device),
            samplerate=samplerate,
            blocksize=cfg.blocksize,
            channels=(1, out_ch),
            dtype="float32",
            latency=cfg.latency,
            callback=recorder.callback,
            dither_off=True,
        )
    except sd.PortAudioError as exc:
        raise DeviceError(f"Could not open the audio devices for the latency measurement: {exc}.") from exc
    try:
        with stream:
            reported = float(stream.latency[0]) + float(stream.latency[1])
            if on_stream_open is not None:
                on_stream_open()
            _play_through(recorder, stream, cfg, cancel)
    except sd.PortAudioError as exc:
        raise DeviceError(f"The audio stream failed during the latency measurement: {exc}.") from exc
    return recorder.rec, reported


def _play_through(
    recorder: _Recorder, stream: sd.Stream, cfg: LoopbackConfig, cancel: Callable[[], bool] | None
) -> None:
    """Arm the callback and wait until the whole play buffer went out (or stall / cancel)."""
    timeout_ms = int((cfg.seconds * 3 + 5) * 1000)
    recorder.armed = True
    waited = 0
    while not recorder.done:
        if cancel is not None and cancel():
            raise LoopbackError("The latency measurement was cancelled.")
        if waited > timeout_ms or not stream.active:
            raise LoopbackError("The audio stream stalled during the latency measurement; try again.")
        sd.sleep(20)
        waited += 20
