"""The PortAudio side: callbacks that only move samples between the device and the rings.

Callback rules (HOUSE_STYLE.md): only ring<->buffer copies, zero-fill and counter increments;
no allocation of our own, no locks, no logging, and never raise (a raising callback is not called
again): anything unexpected is counted in ``callback_errors`` and the output is zero-filled.

Besides samples the duplex callback records plain numbers the worker and ``Engine.stats`` read:
frames and callbacks so far, the last block size, PortAudio's timestamps of the last block, and
``time.perf_counter()`` at the last call (the worker's deadline clock and the watchdog).

Two implementations of the same contract: :class:`NativeDuplexIO` / :class:`NativeMonitorIO` run
the C callback of ``audio/vxcallback.c`` (no GIL on the audio thread: the default wherever a C
compiler built it, see ``audio/native.py``); :class:`DuplexIO` / :class:`MonitorIO` are the
Python callbacks, used when it is unavailable. The worker and the engine read both the same way.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sounddevice as sd

from audio.native import Native
from audio.ringbuffer import RingBuffer, SharedRingBuffer


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


def shared_ring(native: Native, capacity: int, *, keep_timeline: bool = False) -> SharedRingBuffer:
    """A mono ring the C callback can use, publishing positions with release stores."""
    ring = SharedRingBuffer(capacity, keep_timeline=keep_timeline)
    base = native.int64_ptr(ring.idx)
    store = native.lib.vx_store_release
    ring._publish = lambda slot, value: store(base + slot, value)
    return ring


class NativeDuplexIO:
    """The duplex (or, with ``inp=None``, output-only) state for the C callback.

    Same attributes as :class:`DuplexIO`, read from the arrays the callback writes: ``counts``
    (frames, callbacks, last block, xruns) and ``times`` (ADC, DAC and current stream time of the
    last block, and the ``perf_counter`` clock at its call).
    """

    callback_errors = 0  # the C callback cannot fail

    def __init__(self, native: Native, inp: SharedRingBuffer | None, out: SharedRingBuffer) -> None:
        for ring in (inp, out):
            if ring is not None and (ring.channels != 1 or ring._data.dtype != np.float32):
                raise ValueError("the C callback needs mono float32 rings")
        self.native = native
        self.has_input = inp is not None
        self.inp = inp if inp is not None else SharedRingBuffer(1)  # never touched by an output stream
        self.out = out
        self.counts = np.zeros(4, dtype=np.int64)
        self.times = np.zeros(4, dtype=np.float64)
        self.finished = False
        ffi = native.ffi
        io = ffi.new("vx_io *")
        for side, ring in (("in", inp), ("out", out)):
            if ring is None:
                continue
            target = getattr(io, side)
            target.data = ffi.cast("float *", ring._data.ctypes.data)
            target.capacity = ring.capacity
            target.idx = native.int64_ptr(ring.idx)
            target.keep_timeline = int(ring.keep_timeline)
        io.has_input = int(self.has_input)
        io.out_channels = 1  # set when the stream opens
        io.counts = native.int64_ptr(self.counts)
        io.times = ffi.cast("double *", self.times.ctypes.data)
        self.struct = io  # the callback's userdata: alive as long as this object

    frames = property(lambda self: int(self.counts[0]))
    callbacks = property(lambda self: int(self.counts[1]))
    block = property(lambda self: int(self.counts[2]))
    xruns = property(lambda self: int(self.counts[3]))
    adc_time = property(lambda self: float(self.times[0]))
    dac_time = property(lambda self: float(self.times[1]))
    current_time = property(lambda self: float(self.times[2]))
    last_call = property(lambda self: float(self.times[3]))

    def on_finished(self) -> None:
        self.finished = True


class _NativeStream(sd._StreamBase):
    """A sounddevice stream driven by a C callback pointer (sounddevice's documented low-level path)."""


def _open_native(io: NativeDuplexIO, kind: str, out_channels: int, **kwargs: Any) -> Any:
    io.struct.out_channels = out_channels
    return _NativeStream(
        kind=kind,
        callback=io.native.callback,
        userdata=io.struct,
        wrap_callback=None,
        finished_callback=io.on_finished,
        dither_off=True,
        dtype="float32",
        **kwargs,
    )


def open_duplex(
    io: DuplexIO | NativeDuplexIO,
    input_index: int,
    output_index: int,
    out_channels: int,
    samplerate: int,
    blocksize: int,
    latency: float | str,
) -> sd.Stream:
    """A full-duplex float32 stream: 1 input channel, ``out_channels`` output channels (same signal)."""
    if isinstance(io, NativeDuplexIO):
        return _open_native(
            io,
            "duplex",
            out_channels,
            device=(input_index, output_index),
            samplerate=samplerate,
            blocksize=blocksize,
            channels=(1, out_channels),
            latency=latency,
        )
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
    io: MonitorIO | NativeDuplexIO,
    output_index: int,
    out_channels: int,
    samplerate: int,
    blocksize: int,
    latency: float | str,
) -> Any:
    """The monitor's output-only stream."""
    if isinstance(io, NativeDuplexIO):
        return _open_native(
            io,
            "output",
            out_channels,
            device=output_index,
            samplerate=samplerate,
            blocksize=blocksize,
            channels=out_channels,
            latency=latency,
        )
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


AnyDuplexIO = DuplexIO | NativeDuplexIO
"""What the worker and the engine read: the C or the Python callback's state."""
AnyMonitorIO = MonitorIO | NativeDuplexIO
