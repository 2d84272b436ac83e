"""The real engine through PortAudio and a JACK server with the dummy driver (benchkit/jackbench.py).

Every test streams real audio: the harness plays seeded noise into the engine's input port and
records its output ports sample-exactly; lags are measured by cross-correlation.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from audio.config import EngineConfig, EngineStats, LiveParams
from audio.engine import Engine
from benchkit.jackbench import (
    JackHarness,
    aligned_correlation,
    assert_faithful,
    engine_events,
    fractional_delay,
    measure_lag,
    measure_lag_unsigned,
)
from benchkit.stallprobe import StallProbe
from models.base import PassthroughVoice
from tests.audio.voices import InvertVoice

pytestmark = pytest.mark.jack
ROOT = Path(__file__).resolve().parents[2]
RATE = 48000


@dataclass
class Take:
    """One recording of the engine: the input, what came back, and what disturbed it."""

    x: np.ndarray
    rec: np.ndarray
    disturbances: list[int]  # recording positions after JACK xruns (JackHarness.play_record)
    events: int  # late hops + output underflows the engine counted while recording
    period: int
    hop: int
    stats: EngineStats  # right after recording, while the harness is still connected

    def assert_clean(self, y: np.ndarray, lag: int, sign: float = 1.0, x: np.ndarray | None = None, spread=0):
        """``y`` is ``sign * x`` delayed by ``lag`` wherever neither the host nor a counted engine
        event glitched (benchkit/jackbench.py ``assert_faithful``)."""
        x = self.x if x is None else x
        return assert_faithful(
            x,
            y,
            lag,
            self.disturbances,
            self.period,
            engine_events=self.events,
            hop=self.hop,
            sign=sign,
            spread=spread,
        )


def _run(engine: Engine, bench: JackHarness, seconds: float, seed: int = 0, outputs=(0,)) -> Take:
    """Connect the harness to the running engine, play ``seconds`` of noise and record it.

    A recording the host disturbed a lot is made again (up to 4 takes, the quietest kept).
    """
    bench.connect_app(outputs)
    x = bench.test_signal(seconds, seed=seed)
    before = engine.stats()
    rec = bench.play_record(x, tail=0.3, attempts=4)
    after = engine.stats()
    events = engine_events(before, after)
    return Take(x, rec, bench.disturbances, events, bench.server.period, engine.hop, after)


@pytest.fixture
def engine_factory(jack_server):
    engines = []

    def make(period=256, voice=None, **cfg):
        server = jack_server(RATE, period)
        engine = Engine(EngineConfig(samplerate=RATE, **cfg), voice)
        engine.start()
        engines.append(engine)
        return server, engine

    yield make
    for engine in engines:
        engine.stop()


@pytest.mark.parametrize(
    ("period", "margin", "native"),
    [(256, 0, True), (128, 256, True), (256, 0, False)],
    ids=["256-c-callback", "128-c-callback", "256-python-callback"],
)
def test_passthrough_returns_the_input_at_exactly_the_planned_lag(engine_factory, period, margin, native):
    server, engine = engine_factory(period, hop=period, margin=margin, native_callback=native)
    assert engine.native_callback is native  # the C callback is built on this machine (setup.sh)
    time.sleep(0.3)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 2.0)
        device_lag = bench.device_lag
    stats = take.stats
    lag, _ = measure_lag(take.x, take.rec[0])
    planned = stats.planned.total * RATE
    take.assert_clean(take.rec[0], lag)
    assert lag == round(planned)  # sample-exact, not just within a period
    added = lag - device_lag
    assert added == round(stats.planned.buffering * RATE) == period + margin  # hop = period: one hop
    assert added == round(engine.lag_frames())
    # The engine's own measurement (JACK's latency of the connections it really has, plus its ring
    # counters) is the harness's lag to the sample; the issue asks for one period.
    assert stats.measured_source == "jack"
    assert stats.measured_latency is not None and abs(stats.measured_latency * RATE - lag) < 1


@pytest.mark.parametrize("voice_rate", [16000, 40000, 44100])
def test_any_voice_rate_is_resampled_with_the_planned_lag(engine_factory, voice_rate):
    voice = InvertVoice(voice_rate, hop=voice_rate // 100, latency=voice_rate // 1000)
    server, engine = engine_factory(256, voice=voice, hop=480, margin=512)
    time.sleep(0.3)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 2.0)
        device_lag = bench.device_lag
    x, rec = take.x, take.rec
    lag, _ = measure_lag(x, rec[0])
    stats = take.stats
    expected = stats.planned.total * RATE  # fractional: resampler delays
    assert abs(lag - expected) <= 1
    # The device path is the reported one plus nothing else (hop 480 at a 256 period included).
    assert stats.planned.device_in + stats.planned.device_out >= device_lag / RATE
    # Inverted band-limited noise survives both resamplers, at exactly the fractional planned lag.
    reference = fractional_delay(x, expected - round(expected), len(x))
    take.assert_clean(rec[0], round(expected), sign=-1.0, x=reference, spread=256)
    assert stats.planned.voice == voice.latency / voice_rate and stats.planned.resampler > 0


def test_slow_voice_drops_hops_and_the_lag_stays_constant(engine_factory):
    hop = 256
    slow = InvertVoice(RATE, hop, sleep_s=1.6 * hop / RATE)
    server, engine = engine_factory(256, voice=slow, hop=hop, margin=512, late_policy="dry", crossfade_ms=1.0)
    time.sleep(0.5)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 3.0)
    x, rec = take.x, take.rec
    stats = take.stats
    assert stats.late_hops > 20
    assert engine.running
    lag = measure_lag_unsigned(x, rec[0])  # wet hops are -x, dry ones x
    assert lag == round(stats.planned.total * RATE)
    # Wet hops are inverted, dropped hops are the dry input: both at the same lag in every window.
    signs = _per_hop(
        x,
        rec[0, lag : lag + len(x)],
        hop,
        lambda a, b: aligned_correlation(a, b, 0),
        lambda v: np.abs(v) > 0.95,
    )
    # Every hop matches the input (dry) or its negative (wet) at the planned lag: none drifted.
    assert np.mean(np.abs(signs) > 0.95) > 0.9
    assert np.sum(signs > 0.95) > 5 and np.sum(signs < -0.95) > 5


def _per_hop(x, y, hop, measure, clear):
    """``measure(x_part, y_part)`` for the middle of every hop (away from crossfades).

    Hop boundaries fall on multiples of ``hop`` from the engine's start, an unknown phase in the
    recording: take the phase where most per-hop values are clear-cut (``clear(values)``).
    """
    best = None
    for phase in range(0, hop, 16):
        starts = range(RATE // 2 + phase, len(x) - 2 * hop, hop)
        values = np.array([measure(x[s + 64 : s + hop - 64], y[s + 64 : s + hop - 64]) for s in starts])
        score = np.mean(clear(values))
        if best is None or score > best[0]:
            best = (score, values)
    return best[1]


def test_late_policy_silence_outputs_silence_for_dropped_hops(engine_factory):
    hop = 256
    slow = InvertVoice(RATE, hop, sleep_s=1.6 * hop / RATE)
    server, engine = engine_factory(
        256, voice=slow, hop=hop, margin=512, late_policy="silence", crossfade_ms=1.0
    )
    time.sleep(0.5)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 2.0)
    x, rec = take.x, take.rec
    lag = round(take.stats.planned.total * RATE)
    ratio = _per_hop(
        x,
        rec[0, lag : lag + len(x)],
        hop,
        lambda a, b: float(np.sqrt(np.mean(b**2) / np.mean(a**2))),
        lambda v: (v < 1e-3) | (np.abs(v - 1) < 0.05),
    )
    assert engine.stats().late_hops > 10
    # Dropped hops are silent, the others are the (inverted) input at full level.
    assert np.sum(ratio < 1e-3) > 5 and np.sum(np.abs(ratio - 1) < 0.05) > 5


def test_live_params_and_voice_swap_without_restart(engine_factory):
    server, engine = engine_factory(256, hop=256, margin=256)
    time.sleep(0.3)
    with JackHarness(server) as bench:
        takes = [_run(engine, bench, 1.0, seed=1)]
        engine.set_params(LiveParams(output_gain_db=-6.0))
        takes.append(_run(engine, bench, 1.0, seed=2))
        engine.set_voice(InvertVoice(RATE, 256))
        takes.append(_run(engine, bench, 1.0, seed=3))
        engine.set_params(LiveParams(bypass=True))
        takes.append(_run(engine, bench, 1.0, seed=4))
    lags = [measure_lag(take.x, take.rec[0])[0] for take in takes]
    assert len(set(lags)) == 1
    lag = lags[0]
    for take, sign in zip(takes, [1.0, 1.0, -1.0, 1.0], strict=True):
        take.assert_clean(take.rec[0], lag, sign=sign)
    x1, rec1 = takes[1].x, takes[1].rec
    # -6 dB output gain: the median ratio over 10 ms windows ignores a dropped hop or two.
    win = 480
    ratio = np.median(
        np.abs(rec1[0, lag : lag + len(x1)]).reshape(-1, win).mean(axis=1)
        / np.abs(x1).reshape(-1, win).mean(axis=1)
    )
    assert ratio == pytest.approx(10 ** (-6 / 20), rel=1e-3)
    stats = engine.stats()
    assert stats.voice_name == "invert" and stats.running


def test_monitor_gets_the_same_converted_signal(engine_factory):
    server, engine = engine_factory(256, voice=InvertVoice(RATE, 256), hop=256, margin=256, monitor_device=0)
    engine.set_params(LiveParams(monitor_gain_db=-6.0))
    time.sleep(0.3)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 1.0, outputs=(0, 2))  # main stream: outs 0,1; monitor: 2,3
    x, rec = take.x, take.rec
    lag_main, _ = measure_lag(x, rec[0])
    lag_mon, _ = measure_lag(x, rec[1])
    # The monitor stream is aligned to be heard with the main output (PortAudio reports another
    # output latency for an output-only stream; the engine compensates within 0.5 ms).
    assert abs(lag_mon - lag_main) <= 24
    take.assert_clean(rec[0], lag_main, sign=-1.0)
    take.assert_clean(rec[1], lag_mon, sign=-1.0)
    win = 480
    main = np.abs(rec[0, lag_main : lag_main + len(x)]).reshape(-1, win).mean(axis=1)
    mon = np.abs(rec[1, lag_mon : lag_mon + len(x)]).reshape(-1, win).mean(axis=1)
    assert np.median(mon / main) == pytest.approx(10 ** (-6 / 20), rel=1e-3)


@pytest.mark.slow
def test_20_s_under_torch_load_keeps_the_planned_lag(engine_factory):
    """20 s of passthrough while another thread runs a torch loop: the lag stays the planned one,
    and when the host let the CPUs run, not one xrun, underflow or late hop after the warm-up.

    On this 2-vCPU VM the host now and then takes a CPU away for milliseconds (a realtime thread
    doing nothing then misses a 5.33 ms deadline, up to 8 times a second when the host is busy:
    ``bench/hostjitter.py``), and any JACK graph then gets xruns whatever its clients do. A
    :class:`StallProbe` watches the CPUs during the run: if none stalled for half a period, every
    xrun would be the engine's, and zero is asserted; after a host stall the rest is asserted and a
    warning says why zero could not be. See docs/readme/engine.md (Known limits), ``bench/xruns.py``.
    """
    import torch

    server, engine = engine_factory(256, hop=256, margin=256)
    stop = threading.Event()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core for the load, one for the audio path (CI has two)

    def burn():
        a = torch.randn(256, 256)
        while not stop.is_set():
            a = torch.tanh(a @ a.T / 256.0)

    loader = threading.Thread(target=burn, daemon=True)
    loader.start()
    try:
        time.sleep(1.0)  # warm-up: a flag may appear at stream start
        with JackHarness(server) as bench:
            bench.connect_app((0,))
            time.sleep(1.0)  # the harness's ports joining the graph is part of the warm-up
            x = bench.test_signal(20.0)
            with StallProbe() as host:
                before, jack_before = engine.stats(), bench.xruns
                rec = bench.play_record(x, tail=0.3)
                after, jack_after = engine.stats(), bench.xruns
    finally:
        stop.set()
        loader.join(timeout=10)
        torch.set_num_threads(threads)
    lag, corr = measure_lag(x, rec[0])
    counts = (
        after.xruns - before.xruns,
        jack_after - jack_before,
        after.output_underflows - before.output_underflows,
        after.late_hops - before.late_hops,
    )
    detail = f"(stream xruns, JACK xruns, underflows, late hops) {counts}; {host}"
    if host.quiet_for(256, RATE):
        assert counts == (0, 0, 0, 0), detail
    else:
        warnings.warn(f"zero xruns not checkable, the host stalled a CPU: {detail}", stacklevel=1)
    # Under this load the host glitches often (JACK repeats or drops a late client's periods; up
    # to 65 xruns/s measured on the 2-vCPU VM), which lowers the overall correlation (0.91 at 1298
    # JACK xruns in 20 s). At the lag found it must still stand far above chance (about
    # 1/sqrt(N) = 0.001 for N = 960000): the lag is a measured one, and it is the planned one.
    assert corr > 0.5, detail
    assert abs(lag - after.planned.total * RATE) <= 256, (lag, after.planned, detail)
    assert after.hops - before.hops > 20.0 * RATE / 256 * 0.95  # it kept streaming
    assert after.input_overflows == 0 and engine.error is None


@pytest.mark.slow
def test_killing_the_jack_server_ends_the_engine_with_a_readable_error(jack_server):
    server = jack_server(RATE, 256, fresh=True)  # private: only the subprocess connects to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "live", "--seconds", "30", "--samplerate", "48000", "--hop-ms", "5.33"],
        cwd=ROOT,
        env=server.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # the planned latency: the stream is open
        assert first.startswith("voice 'passthrough'"), (first, proc.communicate())
        assert "rtf" in proc.stdout.readline()  # one status line: it is streaming
        server.kill()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, (out, err)
    assert "summary:" in out
    assert "error: The audio" in err and "stopped" in err
    assert "Traceback" not in err


def test_live_cli_streams_and_prints_status_and_summary(jack_server):
    server = jack_server(RATE, 256)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "live",
            "--voice",
            "passthrough",
            "--seconds",
            "2.5",
            "--samplerate",
            "48000",
        ],
        cwd=ROOT,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("voice 'passthrough' at 48000 Hz; planned latency")
    assert sum("rtf" in line and "xruns" in line for line in lines) >= 2
    assert lines[-1].startswith("summary:")


def test_passthrough_voice_object_matches_default(engine_factory):
    server, engine = engine_factory(256, voice=PassthroughVoice(RATE, 128), hop=256, margin=256)
    time.sleep(0.3)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 1.0)
        device_lag = bench.device_lag
    lag, _ = measure_lag(take.x, take.rec[0])
    take.assert_clean(take.rec[0], lag)
    assert lag - device_lag == round(engine.lag_frames())


def test_stop_start_and_restart_with_another_config(engine_factory):
    server, engine = engine_factory(256, hop=256, margin=256)
    engine.stop()
    engine.stop()  # idempotent
    assert not engine.running and engine.error is None
    engine.restart(EngineConfig(samplerate=RATE, hop=512, margin=128))
    assert engine.running and engine.config.hop == 512
    time.sleep(0.3)
    with JackHarness(server) as bench:
        take = _run(engine, bench, 1.0)
        device_lag = bench.device_lag
    lag, _ = measure_lag(take.x, take.rec[0])
    assert lag == round(take.stats.planned.total * RATE)
    assert lag - device_lag == 512 + 128  # hop 512 at period 256: 256 + 512 - 256 + the margin
    take.assert_clean(take.rec[0], lag)
