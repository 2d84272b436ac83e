"""JACK test bench: real PortAudio streams through a JACK server with the dummy driver.

No sound card needed: ``jackd -d dummy`` runs a real audio graph clocked by a timer. PortAudio's
JACK host API then shows one duplex device ("system"); a stream opened on it registers ports
``PortAudio:in_N`` / ``PortAudio:out_N``. A second JACK client, :class:`JackHarness`, feeds a signal
into the app's input ports and records the app's output ports in its own process callback, so the
lag is measured to the sample. That client runs in a spawned child process (``benchkit/jackchild.py``)
with the signal and the recording in shared memory: its Python callback never competes for the GIL
with the engine's callback and worker in the test process.

Harness API (fixtures registered in ``tests/conftest.py``)
----------------------------------------------------------
``jack_server`` (session fixture) is a factory::

    server = jack_server(48000, 256)          # rate, period; reuses a running server if equal
    server = jack_server(48000, 128)          # another period: the previous server is stopped
    server = jack_server(48000, 256, fresh=True)  # private, not used in-process: for a subprocess
                                                  # (env=server.env()) in a test that kills it

It starts ``jackd -n <unique name> -d dummy -r RATE -p PERIOD`` with
``JACK_NO_AUDIO_RESERVATION=1``, waits until a client can connect, sets ``JACK_DEFAULT_SERVER``
for this process and re-initializes PortAudio (``audio.devices.refresh()``) so the JACK device
appears; at the end it stops jackd by its PID. Open streams before using the harness, close them
before asking for another server.

Measuring a voice (what LLVC / RVC / GUI tests do)::

    server = jack_server(48000, 128)
    engine = Engine(EngineConfig(samplerate=48000, hop=128), voice)   # JACK is the default device
    engine.start()
    with JackHarness(server) as bench:
        bench.connect_app()                       # harness:out -> app in; app out_0 -> harness:in_0
        x = bench.test_signal(2.0)                # seeded band-limited noise, float32
        rec = bench.play_record(x, tail=0.5)      # [n_inputs, len(x) + tail] recorded sample-exactly
        lag, corr = measure_lag(x, rec[0])        # lag in frames, normalized correlation at it
        device_lag = bench.device_lag             # JACK's own lag at this period (measured once)
    engine.stop()

``lag - device_lag`` is the engine's added latency; compare it with
``engine.planned_latency().engine * rate``. ``bench.xruns`` counts JACK's xrun callbacks.
``server.kill()`` ends a server mid-stream. Kill only ``fresh`` servers used by a subprocess:
PortAudio's JACK host API aborts the process on termination once its server is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import Any

import numpy as np
import sounddevice as sd

from audio.devices import release
from benchkit import jackchild

START_TIMEOUT_S = 10.0
QUIET_RATE = 2.0  # host disturbances per second below which a recording is not made again
WINDOW = 480  # 10 ms at 48 kHz: the unit in which recordings are compared with their input
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the forked child before exec: SIGTERM it when this process dies (Linux ``prctl``).

    A test run killed hard (SIGKILL, a CI timeout) never reaches the fixture's clean-up; without
    this its ``jackd`` lives on, and its realtime timer thread competes with every later server.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class JackServer:
    """A ``jackd -d dummy`` process under a unique name."""

    def __init__(self, rate: int, period: int) -> None:
        if shutil.which("jackd") is None:
            raise RuntimeError("jackd is not installed: apt-get install jackd2 (see scripts/setup.sh)")
        self.rate = rate
        self.period = period
        self.name = f"voxtest-{uuid.uuid4().hex[:8]}"
        self.log = Path(tempfile.gettempdir()) / f"{self.name}.log"
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        cmd = ["jackd", "-n", self.name, "-d", "dummy", "-r", str(rate), "-p", str(period)]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Wait with ``jack_wait`` in a subprocess: libjack cannot talk to two servers in one process."""
        cmd = ["jack_wait", "-s", self.name, "-w", "-t", str(int(START_TIMEOUT_S))]
        try:
            subprocess.run(cmd, env=self.env(), capture_output=True, timeout=START_TIMEOUT_S + 5, check=True)
        except (subprocess.SubprocessError, OSError) as exc:
            self.kill()
            log = self.log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"jackd '{self.name}' did not come up: {exc}; log: {log}") from exc
        if self.proc.poll() is not None:
            raise RuntimeError(f"jackd exited at start: {self.log.read_text(errors='replace')[-800:]}")

    def activate(self) -> None:
        """Make this server the one PortAudio (and JACK clients) of this process use."""
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_AUDIO_RESERVATION"] = "1"
        release()
        sd._initialize()

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should use this server."""
        return dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_AUDIO_RESERVATION="1")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


class JackPool:
    """Keeps at most one shared server alive; hands out private ones on request.

    This process only ever talks to the shared server (libjack cannot be connected to two
    servers from one process): private servers are for subprocesses.
    """

    def __init__(self) -> None:
        self.shared: JackServer | None = None
        self.private: list[JackServer] = []

    def get(self, rate: int = 48000, period: int = 256, *, fresh: bool = False) -> JackServer:
        """The shared server at (rate, period), activated in this process; or, with ``fresh``,
        a private server that this process does NOT connect to (for subprocesses via
        ``server.env()``; it may be killed freely)."""
        if fresh:
            server = JackServer(rate, period)
            self.private.append(server)
            return server
        shared = self.shared
        if shared is None or not shared.alive or (shared.rate, shared.period) != (rate, period):
            self.close_shared()
            shared = self.shared = JackServer(rate, period)
        shared.activate()
        return shared

    def close_shared(self) -> None:
        release()  # PortAudio must let go of a JACK server before it dies (it aborts otherwise)
        if self.shared is not None:
            self.shared.kill()
            self.shared = None

    def close(self) -> None:
        self.close_shared()
        release()
        for server in self.private:
            server.kill()
        self.private.clear()


class JackHarness:
    """A JACK client that plays into the app's input and records its outputs sample-exactly.

    The client itself lives in a spawned child process (``benchkit/jackchild.py``) so that its Python
    process callback never waits for this process's GIL (held by the engine's callback, its worker
    and any load thread); this object sends it commands over a pipe and shares the signal and the
    recording with it through shared memory.
    """

    def __init__(self, server: JackServer, n_inputs: int = 2, name: str = "voxbench") -> None:
        self.server = server
        self.n_inputs = n_inputs
        ctx = mp.get_context("spawn")
        self._conn, child_conn = ctx.Pipe()
        self._proc = ctx.Process(
            target=jackchild.serve, args=(child_conn, server.name, n_inputs, name), daemon=True
        )
        self._proc.start()
        child_conn.close()
        self._xruns = 0
        self.disturbances: list[int] = []
        self._closed = False
        self._device_lag: int | None = None
        try:
            self._call(None, timeout=START_TIMEOUT_S + 20)  # the child's "ready"
        except RuntimeError:
            self.close()
            raise

    def __enter__(self) -> JackHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, request: tuple[Any, ...] | None, timeout: float = 30.0) -> Any:
        """Send ``request`` (None: just wait for an answer) and return the child's value."""
        if self._closed:
            raise RuntimeError("the JACK harness is closed")
        try:
            if request is not None:
                self._conn.send(request)
            if not self._conn.poll(timeout):
                if self._proc.pid is not None and self._proc.is_alive():
                    os.kill(self._proc.pid, signal.SIGUSR1)  # its threads' stacks, to stderr
                    time.sleep(0.5)
                raise RuntimeError(f"the JACK harness process did not answer within {timeout:.0f} s")
            status, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the JACK harness process is gone (exit code {self._proc.exitcode})") from exc
        if status != "ok":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        """Close the client (its ports vanish from the graph) and end the child process."""
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):
            self._xruns = self._call(("xruns",), timeout=5.0)
            self._call(("close",), timeout=10.0)
        self._closed = True
        self._conn.close()
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)

    @property
    def xruns(self) -> int:
        """JACK's xrun callbacks seen by the harness client since it opened."""
        if not self._closed:
            self._xruns = self._call(("xruns",))
        return self._xruns

    # -- connections --------------------------------------------------------------------------
    def app_ports(self, client: str = "PortAudio") -> tuple[list[str], list[str]]:
        """The app's (capture, playback) port names, sorted by their number."""

        def key(name: str) -> int:
            return int(name.rsplit("_", 1)[-1])

        ins = self._call(("ports", f"{client}:in_.*"))
        outs = self._call(("ports", f"{client}:out_.*"))
        return sorted(ins, key=key), sorted(outs, key=key)

    def connect_app(self, outputs: tuple[int, ...] = (0,), client: str = "PortAudio") -> None:
        """harness:out -> every app input (others removed); app output ``k`` -> harness ``in_<i>``.

        ``k`` indexes the app's current playback ports in order (PortAudio numbers ports on
        from earlier streams, so the first port of the first open stream is output 0; a stereo
        main stream has outputs 0 and 1, a monitor stream opened after it starts at 2).
        """
        ins, outs = self.app_ports(client)
        if not ins or not outs:
            raise RuntimeError(f"no '{client}' ports in the JACK graph: is the app's stream running?")
        self.connect_ports(ins, [outs[k] for k in outputs])

    def connect_ports(self, app_inputs: list[str], app_outputs: list[str]) -> None:
        """Feed ``app_inputs`` only from the harness; record ``app_outputs[i]`` on ``in_<i>``."""
        self._call(("connect_ports", list(app_inputs), list(app_outputs)))

    def connections(self) -> list[tuple[str, str]]:
        """The harness's current (source, destination) connections."""
        return [tuple(pair) for pair in self._call(("connections",))]

    def restore(self, pairs: list[tuple[str, str]]) -> None:
        """Drop the harness's connections and re-make ``pairs`` (see ``connections``)."""
        self._call(("restore", list(pairs)))

    # -- playing and recording ----------------------------------------------------------------
    def test_signal(self, seconds: float, seed: int = 0, cutoff_hz: float = 6000.0) -> np.ndarray:
        """Seeded noise low-passed below ``cutoff_hz`` (survives any resampling to 16 kHz), -12 dBFS."""
        rate = self.server.rate
        n = int(seconds * rate)
        spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
        spec[np.fft.rfftfreq(n, 1 / rate) > cutoff_hz] = 0.0
        x = np.fft.irfft(spec, n)
        return (0.25 * x / np.sqrt(np.mean(x**2))).astype(np.float32)

    def play_record(self, x: np.ndarray, tail: float = 0.5, attempts: int = 1) -> np.ndarray:
        """Play ``x`` into the app and record ``len(x) + tail`` seconds; returns ``[n_inputs, N]``.

        ``self.disturbances`` then holds the recording positions (frames) of the cycles that followed
        a JACK xrun or a gap in JACK's frame clock: there the host, not the app, may have lost audio
        (see :func:`faithfulness`). With ``attempts > 1`` a recording that the host disturbed more
        than :data:`QUIET_RATE` times a second is made again, up to ``attempts`` times in all, and
        the least disturbed one is returned: on a busy 2-vCPU VM the dummy driver can run late
        dozens of times a second for a while, then settle.
        """
        best: tuple[np.ndarray, list[int]] | None = None
        for _ in range(max(1, attempts)):
            rec = self._play_record_once(x, tail)
            if best is None or len(self.disturbances) < len(best[1]):
                best = (rec, self.disturbances)
            if len(best[1]) <= QUIET_RATE * len(x) / self.server.rate:
                break
        rec, self.disturbances = best
        return rec

    def _play_record_once(self, x: np.ndarray, tail: float) -> np.ndarray:
        n = len(x) + int(tail * self.server.rate)
        timeout = n / self.server.rate * 3 + 10
        play_shm = SharedMemory(create=True, size=max(4 * n, 1))
        rec_shm = SharedMemory(create=True, size=max(4 * n * self.n_inputs, 1))
        play = rec = None
        try:
            play = np.ndarray((n,), dtype=np.float32, buffer=play_shm.buf)
            play[:] = 0.0
            play[: len(x)] = x
            rec = np.ndarray((self.n_inputs, n), dtype=np.float32, buffer=rec_shm.buf)
            rec[:] = 0.0
            request = ("play", play_shm.name, rec_shm.name, n, timeout)
            finished, self.disturbances = self._call(request, timeout=timeout + 10)
            if not finished:
                raise RuntimeError("the JACK harness did not finish recording (server stalled?)")
            return rec.copy()
        finally:
            play = rec = None  # release the views: a block with live views cannot be closed
            play_shm.close()
            play_shm.unlink()
            rec_shm.close()
            rec_shm.unlink()

    @property
    def device_lag(self) -> int:
        """JACK's own lag at this period: a plain PortAudio passthrough stream, measured once."""
        if self._device_lag is None:
            self._device_lag = measure_device_lag(self)
        return self._device_lag


def measure_device_lag(bench: JackHarness) -> int:
    """Open a callback stream that copies input to output and measure its lag in frames.

    The stream takes the host's own block size, as the engine's does (a fixed one would make
    PortAudio add a block of buffering): the lag is the harness's loop, one period.
    """

    def passthrough(indata: np.ndarray, outdata: np.ndarray, frames: int, t: object, status: object) -> None:
        outdata[:] = indata

    server = bench.server
    before_in, before_out = bench.app_ports()
    with sd.Stream(samplerate=server.rate, blocksize=0, channels=1, dtype="float32", callback=passthrough):
        time.sleep(0.2)
        ins, outs = bench.app_ports()
        new_in = [p for p in ins if p not in before_in]
        new_out = [p for p in outs if p not in before_out]
        saved = bench.connections()
        bench.connect_ports(new_in, new_out[:1])
        x = bench.test_signal(0.5, seed=99)
        rec = bench.play_record(x, tail=0.3)
        bench.restore(saved)
    lag, _ = measure_lag(x, rec[0])
    return lag


def measure_lag(x: np.ndarray, y: np.ndarray, max_lag: int | None = None) -> tuple[int, float]:
    """Lag (frames) at which ``y`` best matches ``x`` and the normalized correlation there."""
    n = len(x) + len(y)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(y, size) * np.conj(np.fft.rfft(x, size)), size)
    limit = len(y) if max_lag is None else min(len(y), max_lag + 1)
    lag = int(np.argmax(np.abs(corr[:limit])))
    return lag, aligned_correlation(x, y, lag)


def measure_lag_unsigned(x: np.ndarray, y: np.ndarray) -> int:
    """Lag at which ``y`` best matches ``x`` or ``-x`` piece by piece: the cross-correlation of
    their mean-removed squares (a recording that alternates copies and negated copies of the
    input cancels out in a plain cross-correlation)."""
    ex, ey = x.astype(np.float64) ** 2, y.astype(np.float64) ** 2
    return measure_lag(ex - ex.mean(), ey - ey.mean())[0]


def aligned_correlation(x: np.ndarray, y: np.ndarray, lag: int) -> float:
    """Pearson correlation of ``x`` with ``y`` shifted back by ``lag`` frames."""
    m = min(len(x), len(y) - lag)
    if m <= 1:
        return 0.0
    a, b = x[:m].astype(np.float64), y[lag : lag + m].astype(np.float64)
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def window_correlations(x: np.ndarray, y: np.ndarray, lag: int, window: int = WINDOW) -> np.ndarray:
    """Correlation of ``x`` with ``y`` at ``lag`` in consecutive windows (finds glitches)."""
    m = min(len(x), len(y) - lag) // window * window
    a = x[:m].astype(np.float64).reshape(-1, window)
    b = y[lag : lag + m].astype(np.float64).reshape(-1, window)
    denom = np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1))
    return np.sum(a * b, axis=1) / np.maximum(denom, 1e-20)


@dataclass(frozen=True)
class Faithfulness:
    """How a recording matches its input, in :data:`WINDOW`-frame windows of the input."""

    windows: int  # windows compared
    undisturbed: int  # windows away from every host disturbance
    bad: int  # undisturbed windows that do not match the input
    correlation: float  # Pearson correlation over the undisturbed windows

    def __str__(self) -> str:
        return (
            f"{self.bad} of {self.undisturbed} undisturbed windows differ "
            f"({self.windows - self.undisturbed} of {self.windows} near a host xrun), "
            f"correlation {self.correlation:.5f}"
        )


def disturbed_frames(n: int, lag: int, disturbances: list[int], period: int, spread: int = 0) -> np.ndarray:
    """Per frame of the played input: True where a host disturbance may have changed what was heard.

    A disturbance noted at recording position ``t`` (the first cycle after an xrun: a client that
    did not finish its cycle in time) may lose the input played in that cycle (input frames
    ``t .. t + period``) or the output recorded around it (input frames near ``t - lag``); measured
    on this VM, JACK may also repeat or skip a period of a late client's audio until it catches
    up, for up to the whole lag, and the xrun callback reaches the harness a cycle or more after
    the xrun (never before). So input frames ``t - lag - (2 periods + 256) .. t + period`` are
    excluded, both ends widened by ``spread`` (how far the voice smears a glitch, e.g. its
    resampler's and crossfade's length).
    """
    before, after = lag + 2 * period + 256 + spread, period + spread
    mask = np.zeros(n, dtype=bool)
    for t in disturbances:
        lo, hi = max(0, t - before), min(n, t + after)
        if hi > lo:
            mask[lo:hi] = True
    return mask


def faithfulness(
    x: np.ndarray,
    y: np.ndarray,
    lag: int,
    disturbances: list[int],
    period: int,
    *,
    sign: float = 1.0,
    spread: int = 0,
    threshold: float = 0.999,
) -> Faithfulness:
    """Compare ``y`` with ``sign * x`` delayed by ``lag`` window by window, apart from host glitches.

    A window is bad when its correlation is at most ``threshold``; windows touching a frame of
    :func:`disturbed_frames` are left out (the host, not the app, may have lost audio there).
    """
    corr = sign * window_correlations(x, y, lag)
    m = len(corr) * WINDOW
    near = disturbed_frames(m, lag, disturbances, period, spread).reshape(-1, WINDOW).any(axis=1)
    keep = ~near
    a = x[:m].astype(np.float64).reshape(-1, WINDOW)[keep]
    b = sign * y[lag : lag + m].astype(np.float64).reshape(-1, WINDOW)[keep]
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    total = float(np.sum(a * b) / denom) if denom > 0 else 0.0
    return Faithfulness(len(corr), int(keep.sum()), int(np.sum(keep & (corr <= threshold))), total)


def engine_events(before: Any, after: Any) -> int:
    """Late hops plus output underflows the engine counted between two ``engine.stats()``."""
    return after.late_hops - before.late_hops + after.output_underflows - before.output_underflows


def assert_faithful(
    x: np.ndarray,
    y: np.ndarray,
    lag: int,
    disturbances: list[int],
    period: int,
    *,
    engine_events: int = 0,
    hop: int = 0,
    sign: float = 1.0,
    spread: int = 0,
    min_undisturbed: float = 0.05,
) -> Faithfulness:
    """``y`` is ``sign * x`` delayed by exactly ``lag`` wherever the host did not glitch.

    Every undisturbed window must match, except those an event the engine counted itself may
    have hit (``engine_events``: late hops and output underflows while recording; each spoils at
    most ``hop + period`` frames). At least ``min_undisturbed`` of the windows must be left to
    check: a host too busy for that fails the test rather than letting it pass unchecked.
    (``correlation`` in the report is informative only: the allowed windows may lower it.)
    """
    report = faithfulness(x, y, lag, disturbances, period, sign=sign, spread=spread)
    assert report.undisturbed >= max(10, min_undisturbed * report.windows), (
        f"host too busy to check: {report}"
    )
    allowed = engine_events * (-(-(hop + period + spread) // WINDOW) + 1)
    assert report.bad <= allowed, f"{report}; the engine counted {engine_events} late or underflowing hops"
    return report


def fractional_delay(x: np.ndarray, delay: float, length: int) -> np.ndarray:
    """``x`` delayed by ``delay`` frames (fractional allowed, band-limited FFT shift), ``length`` long."""
    size = 1 << (length + len(x)).bit_length()
    spec = np.fft.rfft(x.astype(np.float64), size)
    spec *= np.exp(-2j * np.pi * np.fft.rfftfreq(size) * delay)
    return np.fft.irfft(spec, size)[:length].astype(np.float32)
