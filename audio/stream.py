"""The PortAudio side: callbacks that only move samples between the device and the rings.

Callback rules (HOUSE_STYLE.md): only ring<->buffer copies, zero-fill and counter increments;
no allocation of our own, no locks, no logging, and never raise (a raising callback is not called
again): anything unexpected is counted in ``callback_errors`` and the output is zero-filled.

Besides samples the duplex callback records plain numbers the worker and ``Engine.stats`` read:
frames and callbacks so far, the last block size, PortAudio's timestamps of the last block, and
``time.perf_counter()`` at the last call (the worker's deadline clock and the watchdog).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sounddevice as sd

from audio.ringbuffer import RingBuffer


class DuplexIO:
    """State shared by the duplex callback (writer of ``inp``, reader of ``out``) and the worker."""

    def __init__(self, inp: RingBuffer, out: RingBuffer) -> None:
        self.inp = inp
        self.out = out
        self.frames = 0
        self.callbacks = 0
        self.block = 0
        self.xruns = 0
        self.callback_errors = 0
        self.adc_time = 0.0
        self.dac_time = 0.0
        self.current_time = 0.0
        self.last_call = 0.0
        self.finished = False

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """PortAudio duplex callback: input block -> ring, ring -> output block (mono to all channels)."""
        try:
            if status.input_overflow or status.output_underflow:
                self.xruns += 1
            self.inp.write(indata[:, 0])
            self.out.read(outdata[:, 0])
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            self.adc_time = t.inputBufferAdcTime
            self.dac_time = t.outputBufferDacTime
            self.current_time = t.currentTime
            self.block = frames
            self.frames += frames
            self.callbacks += 1
            self.last_call = time.perf_counter()
        except Exception:  # never let an exception stop the stream: count it, output silence
            self.callback_errors += 1
            outdata.fill(0.0)

    def on_finished(self) -> None:
        """PortAudio's finished callback: the stream stopped (by us, or because the device went away)."""
        self.finished = True


class MonitorIO:
    """State of the optional monitor (second output) stream: ring -> device only."""

    def __init__(self, out: RingBuffer) -> None:
        self.out = out
        self.xruns = 0
        self.callbacks = 0
        self.callback_errors = 0
        self.last_call = 0.0
        self.finished = False

    def callback(self, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """PortAudio output callback for the monitor device."""
        try:
            if status.output_underflow:
                self.xruns += 1
            self.out.read(outdata[:, 0])
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            self.callbacks += 1
            self.last_call = time.perf_counter()
        except Exception:  # never raise in the audio thread
            self.callback_errors += 1
            outdata.fill(0.0)

    def on_finished(self) -> None:
        self.finished = True


def open_duplex(
    io: DuplexIO,
    input_index: int,
    output_index: int,
    out_channels: int,
    samplerate: int,
    blocksize: int,
    latency: float | str,
) -> sd.Stream:
    """A full-duplex float32 stream: 1 input channel, ``out_channels`` output channels (same signal)."""
    return sd.Stream(
        device=(input_index, output_index),
        samplerate=samplerate,
        blocksize=blocksize,
        channels=(1, out_channels),
        dtype="float32",
        latency=latency,
        callback=io.callback,
        finished_callback=io.on_finished,
        dither_off=True,
    )


def open_monitor(
    io: MonitorIO, output_index: int, out_channels: int, samplerate: int, blocksize: int, latency: float | str
) -> sd.OutputStream:
    """The monitor's output-only stream."""
    return sd.OutputStream(
        device=output_index,
        samplerate=samplerate,
        blocksize=blocksize,
        channels=out_channels,
        dtype="float32",
        latency=latency,
        callback=io.callback,
        finished_callback=io.on_finished,
        dither_off=True,
    )
