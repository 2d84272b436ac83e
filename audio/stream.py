"""The PortAudio side: callbacks that only move samples between the device and the rings.

Callback rules (HOUSE_STYLE.md): only ring<->buffer copies, zero-fill and counter increments;
no allocation of our own, no locks, no logging, and never raise (a raising callback is not called
again): anything unexpected is counted in ``callback_errors`` and the output is zero-filled.

Besides samples the duplex callback records plain numbers the worker and ``Engine.stats`` read:
frames and callbacks so far, the last block size, PortAudio's timestamps of the last block,
``time.perf_counter()`` at the last call (the worker's deadline clock and the watchdog), and a log
of the frames of the last :data:`CYCLE_LOG` host cycles (one cycle may reach the callback as
several blocks that share PortAudio's ``currentTime``: PortAudio splits JACK periods above 1024
frames). When the input ring holds a hop it wakes the worker (:class:`NativeWake`, a semaphore
the C callback posts; :class:`SocketWake` for the Python callback), so the worker never polls.

Two implementations of the same contract: :class:`NativeDuplexIO` / :class:`NativeMonitorIO` run
the C callback of ``audio/vxcallback.c`` (no GIL on the audio thread: the default wherever a C
compiler built it, see ``audio/native.py``); :class:`DuplexIO` / :class:`MonitorIO` are the
Python callbacks, used when it is unavailable. The worker and the engine read both the same way.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from typing import Any, Protocol

import numpy as np
import sounddevice as sd

from audio.native import CYCLE_LOG, Native
from audio.ringbuffer import RingBuffer, SharedRingBuffer


class Wake(Protocol):
    """How the callback wakes the worker: ``post`` from the audio thread, ``wait`` in the worker."""

    def post(self) -> None: ...

    def wait(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


class SocketWake:
    """A wake-up for the Python callback: one byte over a non-blocking socket pair.

    ``post`` is a single non-blocking ``send`` (no lock, no allocation: the byte is a constant);
    ``wait`` blocks in ``select`` with the GIL released and drains what was posted.
    """

    _BYTE = b"\0"

    def __init__(self) -> None:
        self._rx, self._tx = socket.socketpair()
        self._rx.setblocking(False)
        self._tx.setblocking(False)

    def post(self) -> None:
        # OSError: full (the worker is behind and will find the data anyway) or closed
        with contextlib.suppress(OSError):
            self._tx.send(self._BYTE)

    def wait(self, timeout: float) -> bool:
        try:
            ready, _, _ = select.select([self._rx], [], [], max(0.0, timeout))
            if not ready:
                return False
            while self._rx.recv(4096):
                pass
        except BlockingIOError:
            pass  # drained
        except (OSError, ValueError):  # closed under us: the engine is stopping
            return False
        return True

    def close(self) -> None:
        self._rx.close()
        self._tx.close()


class NativeWake:
    """The C library's semaphore: the C callback posts it; ``wait`` blocks in C without the GIL."""

    def __init__(self, native: Native) -> None:
        self._lib = native.lib
        self.handle = native.lib.vx_sem_new()
        if self.handle == native.ffi.NULL:
            raise RuntimeError("could not create the worker's wake-up semaphore")

    def post(self) -> None:
        self._lib.vx_sem_post(self.handle)

    def wait(self, timeout: float) -> bool:
        return bool(self._lib.vx_sem_wait(self.handle, max(0.0, timeout)))

    def close(self) -> None:
        handle, self.handle = self.handle, None
        if handle is not None:
            self._lib.vx_sem_free(handle)


def recent_cycle_max(cycle_log: np.ndarray, cycles: int, n: int = CYCLE_LOG) -> int:
    """The largest host cycle (frames) among the last ``n`` logged, 0 before the first."""
    n = min(n, cycles, len(cycle_log))
    if n <= 0:
        return 0
    slots = np.arange(cycles - n, cycles) % len(cycle_log)
    return int(cycle_log[slots].max())


class DuplexIO:
    """State shared by the duplex callback (writer of ``inp``, reader of ``out``) and the worker."""

    def __init__(self, inp: RingBuffer, out: RingBuffer, wake: Wake | None = None) -> None:
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
        self.cycle_log = np.zeros(CYCLE_LOG, dtype=np.int64)
        self.cycles = 0
        self.wake = wake
        self.wake_frames = 0
        """The worker's hop: the callback posts ``wake`` whenever the input ring holds this many frames."""

    def callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        """PortAudio duplex callback: input block -> ring, ring -> output block (mono to all channels)."""
        try:
            if status.input_overflow or status.output_underflow:
                self.xruns += 1
            self.inp.write(indata[:, 0])
            self.out.read(outdata[:, 0])
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]
            self._log_cycle(t.currentTime, frames)
            self.adc_time = t.inputBufferAdcTime
            self.dac_time = t.outputBufferDacTime
            self.current_time = t.currentTime
            self.block = frames
            self.frames += frames
            self.callbacks += 1
            self.last_call = time.perf_counter()
            if self.wake is not None and 0 < self.wake_frames <= self.inp.available_read:
                self.wake.post()
        except Exception:  # never let an exception stop the stream: count it, output silence
            self.callback_errors += 1
            outdata.fill(0.0)

    def _log_cycle(self, current_time: float, frames: int) -> None:
        """Blocks of one host cycle share ``currentTime``: they add up to one entry (as in C)."""
        cycles = self.cycles
        if current_time != 0.0 and cycles > 0 and current_time == self.current_time:
            self.cycle_log[(cycles - 1) % CYCLE_LOG] += frames
        else:
            self.cycle_log[cycles % CYCLE_LOG] = frames
            self.cycles = cycles + 1

    def wait_input(self, timeout: float) -> bool:
        """Block until the callback posts a hop of input (True) or ``timeout`` seconds pass."""
        if self.wake is None:
            time.sleep(timeout)
            return False
        return self.wake.wait(timeout)

    def period(self, n: int = CYCLE_LOG) -> int:
        """The largest host cycle among the last ``n``: what one callback may take out at once."""
        return recent_cycle_max(self.cycle_log, self.cycles, n)

    def close(self) -> None:
        """Release the wake-up (after the stream is closed)."""
        if self.wake is not None:
            self.wake.close()

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
    """A mono ring the C callback can use: release stores and acquire loads of its positions."""
    ring = SharedRingBuffer(capacity, keep_timeline=keep_timeline)
    base = native.int64_ptr(ring.idx)
    store, load = native.lib.vx_store_release, native.lib.vx_load_acquire
    ring._publish = lambda slot, value: store(base + slot, value)
    ring._acquire = lambda slot: load(base + slot)
    return ring


class NativeDuplexIO:
    """The duplex (or, with ``inp=None``, output-only) state for the C callback.

    Same attributes as :class:`DuplexIO`, read from the arrays the callback writes: ``counts``
    (frames, callbacks, last block, xruns, host cycles), ``times`` (ADC, DAC and current stream
    time of the last block, and the ``perf_counter`` clock at its call) and ``cycle_log``. A duplex
    one owns a :class:`NativeWake` the callback posts.
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
        self.counts = np.zeros(5, dtype=np.int64)
        self.times = np.zeros(4, dtype=np.float64)
        self.cycle_log = np.zeros(CYCLE_LOG, dtype=np.int64)
        self.finished = False
        self.wake: NativeWake | None = NativeWake(native) if inp is not None else None
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
        io.cycle_log = native.int64_ptr(self.cycle_log)
        io.wake = self.wake.handle if self.wake is not None else ffi.NULL
        io.wake_frames = 0
        self.struct = io  # the callback's userdata: alive as long as this object
        self._cycles_ptr = native.int64_ptr(self.counts) + 4
        self._load = native.lib.vx_load_acquire

    frames = property(lambda self: int(self.counts[0]))
    callbacks = property(lambda self: int(self.counts[1]))
    block = property(lambda self: int(self.counts[2]))
    xruns = property(lambda self: int(self.counts[3]))
    adc_time = property(lambda self: float(self.times[0]))
    dac_time = property(lambda self: float(self.times[1]))
    current_time = property(lambda self: float(self.times[2]))
    last_call = property(lambda self: float(self.times[3]))

    @property
    def cycles(self) -> int:
        """Host cycles so far (acquire: the log entry of the newest is visible)."""
        return int(self._load(self._cycles_ptr))

    @property
    def wake_frames(self) -> int:
        return int(self.struct.wake_frames)

    @wake_frames.setter
    def wake_frames(self, frames: int) -> None:
        self.struct.wake_frames = frames

    def wait_input(self, timeout: float) -> bool:
        """Block until the callback posts a hop of input (True) or ``timeout`` seconds pass."""
        if self.wake is None:
            time.sleep(timeout)
            return False
        return self.wake.wait(timeout)

    def period(self, n: int = CYCLE_LOG) -> int:
        """The largest host cycle among the last ``n``: what one callback may take out at once."""
        return recent_cycle_max(self.cycle_log, self.cycles, n)

    def close(self) -> None:
        """Release the semaphore (after the stream is closed: the callback must not post it any more)."""
        if self.wake is not None:
            self.struct.wake = self.native.ffi.NULL
            self.wake.close()
            self.wake = None

    def on_finished(self) -> None:
        self.finished = True


class _NativeStream(sd._StreamBase):
    """A sounddevice stream driven by a C callback pointer (sounddevice's documented low-level path)."""


def host_settings(hostapi: str, *, exclusive: bool = False) -> Any:
    """The host-API-specific settings PortAudio gets for one side of a stream (None: defaults).

    WASAPI: ``exclusive`` opens the device in exclusive mode (``sd.WasapiSettings``). ASIO needs
    none (it is enabled when ``audio`` is imported, see ``audio.enable_asio``); other hosts have
    nothing we set.
    """
    if exclusive and "WASAPI" in hostapi:
        return sd.WasapiSettings(exclusive=True)
    return None


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
    extra_settings: tuple[Any, Any] = (None, None),
) -> sd.Stream:
    """A full-duplex float32 stream: 1 input channel, ``out_channels`` output channels (same signal).

    ``extra_settings``: (input, output) host-API settings from :func:`host_settings`.
    """
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
            extra_settings=extra_settings,
        )
    return sd.Stream(
        device=(input_index, output_index),
        samplerate=samplerate,
        blocksize=blocksize,
        channels=(1, out_channels),
        dtype="float32",
        latency=latency,
        extra_settings=extra_settings,
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
    extra_settings: Any = None,
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
            extra_settings=extra_settings,
        )
    return sd.OutputStream(
        device=output_index,
        samplerate=samplerate,
        blocksize=blocksize,
        channels=out_channels,
        dtype="float32",
        latency=latency,
        extra_settings=extra_settings,
        callback=io.callback,
        finished_callback=io.on_finished,
        dither_off=True,
    )


AnyDuplexIO = DuplexIO | NativeDuplexIO
"""What the worker and the engine read: the C or the Python callback's state."""
AnyMonitorIO = MonitorIO | NativeDuplexIO
