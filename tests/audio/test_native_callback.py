"""The C audio callback (audio/vxcallback.c) against the Python callback and ring, sample for sample."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio import native
from audio.ringbuffer import RingBuffer
from audio.stream import DuplexIO, NativeDuplexIO, SocketWake, shared_ring

ROOT = Path(__file__).resolve().parents[2]
RING_COUNTERS = ("frames_written", "frames_read", "overruns", "underruns", "dropped_frames", "missing_frames")


@pytest.fixture(scope="module")
def lib():
    loaded = native.load()
    assert loaded is not None, native.unavailable_reason()
    return loaded


class Times:
    def __init__(self, adc: float, current: float, dac: float) -> None:
        self.inputBufferAdcTime, self.currentTime, self.outputBufferDacTime = adc, current, dac


class Status:
    def __init__(self, flags: int) -> None:
        self.input_overflow = bool(flags & 0x2)
        self.output_underflow = bool(flags & 0x4)


def call_native(lib, io: NativeDuplexIO, indata, outdata, t: Times, flags: int) -> int:
    ffi = lib.ffi
    info = ffi.new("double[3]", [t.inputBufferAdcTime, t.currentTime, t.outputBufferDacTime])
    inp = ffi.cast("void *", indata.ctypes.data) if indata is not None else ffi.NULL
    return lib.callback(inp, ffi.cast("void *", outdata.ctypes.data), len(outdata), info, flags, io.struct)


def test_the_clock_is_perf_counter(lib):
    a = time.perf_counter()
    b = lib.now()
    c = time.perf_counter()
    assert a - 1e-3 <= b <= c + 1e-3


@pytest.mark.parametrize("channels", [1, 2])
def test_c_callback_equals_the_python_callback_through_wraps_overruns_and_underruns(lib, channels):
    """Random blocks and worker writes: outputs, ring positions and every counter stay identical."""
    rng = np.random.default_rng(7)
    cap = 1000  # small: many wrap-arounds, overruns and underruns
    py = DuplexIO(RingBuffer(cap), RingBuffer(cap, keep_timeline=True))
    c = NativeDuplexIO(lib, shared_ring(lib, cap), shared_ring(lib, cap, keep_timeline=True))
    c.struct.out_channels = channels
    for io in (py, c):
        io.out.write(np.zeros(300, dtype=np.float32))
    cycle = 0
    for step in range(400):
        frames = int(rng.choice([64, 128, 256, 333]))
        indata = rng.standard_normal((frames, 1)).astype(np.float32)
        flags = int(rng.choice([0, 0, 0, 0x2, 0x4, 0x1]))
        cycle += int(rng.random() < 0.7)  # some host cycles arrive as several blocks
        t = Times(step * 0.01, cycle * 0.01 + 0.001, step * 0.01 + 0.02)
        out_py = np.full((frames, channels), 9.0, dtype=np.float32)
        out_c = np.full((frames, channels), 9.0, dtype=np.float32)
        before = time.perf_counter()
        py.callback(indata, out_py, frames, t, Status(flags))
        assert call_native(lib, c, indata, out_c, t, flags) == 0
        after = time.perf_counter()
        # every call stamps last_call on the perf_counter clock while it runs (the worker reads it
        # to tell a stalled stream from a running one); an ordering, no duration is asserted
        assert before <= py.last_call <= c.last_call <= after, (step, before, py.last_call, c.last_call)
        np.testing.assert_array_equal(out_c, out_py)
        # the "worker": reads some input, writes some output (sometimes too much, sometimes late)
        n = int(rng.integers(0, 700))
        got_py, got_c = np.zeros(n, np.float32), np.zeros(n, np.float32)
        assert py.inp.read(got_py) == c.inp.read(got_c)
        np.testing.assert_array_equal(got_c, got_py)
        block = rng.standard_normal(int(rng.integers(0, 700))).astype(np.float32)
        assert py.out.write(block) == c.out.write(block)
        if rng.random() < 0.5:  # a concealment tail past the written frames, played on an underflow
            tail = rng.standard_normal(int(rng.integers(1, 400))).astype(np.float32)
            assert py.out.write_tail(tail) == c.out.write_tail(tail)
        for name in (
            "frames_written",
            "frames_read",
            "overruns",
            "underruns",
            "dropped_frames",
            "missing_frames",
            "_tail",
        ):
            assert getattr(c.inp, name) == getattr(py.inp, name), (step, name)
            assert getattr(c.out, name) == getattr(py.out, name), (step, name)
        for name in (
            "frames",
            "callbacks",
            "block",
            "xruns",
            "adc_time",
            "dac_time",
            "current_time",
            "cycles",
        ):
            assert getattr(c, name) == getattr(py, name), (step, name)
        np.testing.assert_array_equal(c.cycle_log, py.cycle_log)
        assert c.period() == py.period()
    assert py.inp.overruns > 0 and py.out.underruns > 0 and py.xruns > 0  # every path was taken
    assert py.cycles < py.callbacks and py.period() > 333  # blocks were grouped into cycles


def test_an_underflow_plays_the_concealment_tail_then_zeros(lib):
    for ring in (RingBuffer(64, keep_timeline=True), shared_ring(lib, 64, keep_timeline=True)):
        ring.write(np.arange(1, 5, dtype=np.float32))
        assert ring.write_tail(np.full(3, 9.0, np.float32)) == 3
        out = np.full(10, -1.0, np.float32)
        assert ring.read(out) == 4
        np.testing.assert_array_equal(out, [1, 2, 3, 4, 9, 9, 9, 0, 0, 0])
        assert ring.underruns == 1 and ring.missing_frames == 6 and ring.frames_read == 10
        # the next write replaces the tail; frames for positions already played are discarded
        ring.write(np.arange(10, 20, dtype=np.float32))
        out = np.zeros(4, np.float32)
        assert ring.read(out) == 4
        np.testing.assert_array_equal(out, [16, 17, 18, 19])


@pytest.mark.parametrize("use_c", [True, False], ids=["c-semaphore", "python-socket"])
def test_the_callback_wakes_the_worker_once_a_hop_is_in(lib, use_c):
    if use_c:
        io: DuplexIO | NativeDuplexIO = NativeDuplexIO(lib, shared_ring(lib, 4096), shared_ring(lib, 4096))
    else:
        io = DuplexIO(RingBuffer(4096), RingBuffer(4096), SocketWake())
    io.wake_frames = 256
    out = np.zeros((128, 1), np.float32)
    block = np.ones((128, 1), np.float32)

    def callback(k: int) -> None:
        if use_c:
            call_native(lib, io, block, out, Times(k, k, k), 0)
        else:
            io.callback(block, out, 128, Times(k, k, k), Status(0))

    try:
        callback(1)
        assert not io.wait_input(0.0)  # half a hop: no signal
        callback(2)
        assert io.wait_input(1.0)  # a whole hop: signalled
        assert not io.wait_input(0.0)  # one signal, consumed
        # a worker blocked in wait_input is woken by a callback on another thread
        woke: list[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(io.wait_input(5.0)))
        io.inp.read(np.zeros(256, np.float32))
        waiter.start()
        time.sleep(0.05)
        callback(3)
        callback(4)
        waiter.join(timeout=5)
        assert woke == [True]
    finally:
        io.close()


def test_output_only_stream_for_the_monitor(lib):
    ring = shared_ring(lib, 64, keep_timeline=True)
    io = NativeDuplexIO(lib, None, ring)
    io.struct.out_channels = 2
    ring.write(np.arange(10, dtype=np.float32))
    out = np.full((16, 2), 9.0, dtype=np.float32)
    call_native(lib, io, None, out, Times(0, 0, 0), 0x4)
    np.testing.assert_array_equal(out[:10, 0], np.arange(10))
    np.testing.assert_array_equal(out[:10, 1], np.arange(10))
    assert not out[10:].any()
    assert ring.underruns == 1 and ring.missing_frames == 6 and ring.frames_read == 16
    assert io.xruns == 1 and io.callbacks == 1


def test_rings_the_c_callback_cannot_serve_are_refused(lib):
    with pytest.raises(ValueError, match="mono float32"):
        from audio.ringbuffer import SharedRingBuffer

        NativeDuplexIO(lib, SharedRingBuffer(64, 2), shared_ring(lib, 64))


def test_build_without_a_compiler_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("PATH", str(tmp_path))  # no cc, gcc or clang either
    with pytest.raises(RuntimeError, match="no C compiler found"):
        native.build(tmp_path / "lib.so")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_build_writes_a_loadable_library_atomically(tmp_path):
    path = native.build(tmp_path / "vx.so")
    assert [p.name for p in tmp_path.iterdir()] == ["vx.so"]
    assert native.Native(path).now() > 0


def _load_in_subprocess(env: dict[str, str]) -> str:
    code = "from audio import native; n = native.load(); print(n is not None, native.unavailable_reason())"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_falls_back_to_the_python_callback_with_a_reason(tmp_path):
    assert _load_in_subprocess({"VOXSHIFT_NATIVE_CALLBACK": "0"}) == (
        "False disabled by VOXSHIFT_NATIVE_CALLBACK=0"
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    out = _load_in_subprocess({"VOXSHIFT_NATIVE_DIR": str(tmp_path / "cache"), "CC": "", "PATH": str(empty)})
    assert out.startswith("False no C compiler found")
