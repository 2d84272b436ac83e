"""The processing side without a device: pipeline lag, gate, gains, bypass, swap, monitor.

The worker's hop function is driven directly on real rings (no thread, no stream), so every
output sample can be checked exactly.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.config import EngineConfig, LiveParams, plan_fill
from audio.ringbuffer import RingBuffer
from audio.stream import DuplexIO
from audio.worker import VoicePipeline, Worker, fifo_prefill
from benchkit.jackbench import aligned_correlation, fractional_delay
from models.base import PassthroughVoice
from tests.audio.voices import InvertVoice


def _noise(n, seed=0, cutoff=0.2):
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spec[np.fft.rfftfreq(n) > cutoff / 2] = 0
    return (0.25 * np.fft.irfft(spec, n)).astype(np.float32) * 4


def _stream(pipeline, x, hop, mode="wet"):
    return np.concatenate([pipeline.process(x[i : i + hop], mode) for i in range(0, len(x) - hop + 1, hop)])


@pytest.mark.parametrize(("dev_hop", "voice_hop", "latency"), [(256, 256, 0), (256, 100, 37), (128, 480, 5)])
def test_same_rate_pipeline_is_an_exact_delay(dev_hop, voice_hop, latency):
    voice = InvertVoice(48000, voice_hop, latency=latency)
    pipe = VoicePipeline(voice, 48000, dev_hop)
    x = _noise(48000)
    y = _stream(pipe, x, dev_hop)
    lag = pipe.lag
    assert lag == int(lag) and lag == fifo_prefill(48000, dev_hop, voice) + latency
    np.testing.assert_array_equal(y[int(lag) :], -x[: len(y) - int(lag)])


@pytest.mark.parametrize(("dev_hop", "voice_hop", "latency"), [(256, 256, 0), (256, 100, 37), (128, 480, 5)])
def test_dry_hops_have_the_same_lag_as_wet_ones(dev_hop, voice_hop, latency):
    """Bypass and dropped hops play the input at the voice's lag: switching never jumps in time."""
    voice = InvertVoice(48000, voice_hop, latency=latency)
    wet, dry = VoicePipeline(voice, 48000, dev_hop), VoicePipeline(voice, 48000, dev_hop)
    x = _noise(24000)
    np.testing.assert_array_equal(_stream(dry, x, dev_hop, mode="dry"), -_stream(wet, x, dev_hop))


@pytest.mark.parametrize(
    ("voice_rate", "voice_hop"), [(16000, 160), (40000, 400), (44100, 441), (16000, 128)]
)
def test_resampling_pipeline_delays_by_its_fractional_lag(voice_rate, voice_hop):
    pipe = VoicePipeline(PassthroughVoice(voice_rate, voice_hop), 48000, 256)
    x = _noise(48000, cutoff=0.2)  # below 4.8 kHz: passes a 16 kHz voice rate
    y = _stream(pipe, x, 256)
    ref = fractional_delay(x, pipe.lag, len(y))
    seg = slice(2000, len(y) - 100)
    assert aligned_correlation(ref[seg], y[seg], 0) > 0.9999
    assert np.max(np.abs(ref[seg] - y[seg])) < 0.01


def _worker(voice=None, monitor=False, played=True, **cfg):
    """A worker whose output ring holds its planned pre-fill (256 frames at period 256), already
    played out (``played``: what it writes next is read next) or still to play (as on a device)."""
    cfg = {"crossfade_ms": 1.0, **cfg}
    config = EngineConfig(samplerate=48000, hop=256, worker_priority=0, **cfg)
    io = DuplexIO(RingBuffer(48000), RingBuffer(48000, keep_timeline=True))
    mon = RingBuffer(48000, keep_timeline=True) if monitor else None
    pipe = VoicePipeline(voice or PassthroughVoice(48000, 256), 48000, 256)
    worker = Worker(config, io, pipe, LiveParams(), 48000, mon, on_error=lambda msg: None)
    plan = plan_fill(256, 256, 1.0)
    assert plan.fill == 256
    worker.mark_started(plan)
    for ring in (io.out, mon):
        if ring is not None:
            ring.write(np.zeros(plan.fill, np.float32))
            if played:
                ring.read(np.zeros(plan.fill, np.float32))
    io.last_call = time.perf_counter() + 3600  # a far deadline: nothing is late in this test
    io.block = 256
    return worker, io


def _hops(worker, io, x):
    io.inp.write(x)
    out = np.zeros(len(x), np.float32)
    for _ in range(0, len(x), 256):
        worker._one_hop()
    io.out.read(out)
    return out


def test_gain_gate_and_levels():
    worker, io = _worker()
    x = _noise(256 * 8)
    worker.params = LiveParams(input_gain_db=6.0, output_gain_db=-12.0)
    y = _hops(worker, io, x)
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), rtol=1e-5, atol=1e-7)
    assert worker.output_level_db < worker.input_level_db
    worker.params = LiveParams(gate_db=-3.0)  # louder than the signal: gated after hold + release
    gated = _hops(worker, io, 0.1 * _noise(256 * 60, seed=1))  # ~20 dB under: below the hysteresis
    timing = worker.gate.timing
    closed = int((timing.hold_s + timing.release_s) * 48000) + 256
    assert np.all(gated[closed:] == 0.0)
    assert np.abs(gated[:closed]).max() > 0.1  # a release, not a cut


def test_bypass_and_voice_swap_crossfade_without_a_jump():
    worker, io = _worker(voice=InvertVoice(48000, 256))
    t = np.arange(256 * 12) / 48000
    x = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    y1 = _hops(worker, io, x[:1536])
    np.testing.assert_allclose(y1, -x[:1536], atol=1e-6)
    worker.params = LiveParams(bypass=True)
    y2 = _hops(worker, io, x[1536:])
    np.testing.assert_allclose(y2[100:], x[1536 + 100 :], atol=1e-6)  # dry after the crossfade
    assert abs(y2[0] - y1[-1]) < 0.02  # starts where the wet output ended: no click
    worker.params = LiveParams()
    worker.pending = VoicePipeline(PassthroughVoice(48000, 256), 48000, 256)
    y3 = _hops(worker, io, x[:1536])
    assert worker.pipeline.voice.name == "passthrough"
    np.testing.assert_allclose(y3[256:], x[256:1536], atol=1e-6)
    assert np.max(np.abs(np.diff(y3[:64]))) < 0.05  # swap crossfade is smooth


def test_monitor_ring_gets_the_converted_hop_with_its_gain():
    worker, io = _worker(voice=InvertVoice(48000, 256), monitor=True)
    worker.params = LiveParams(output_gain_db=-6.0, monitor_gain_db=-12.0)
    x = _noise(256 * 4)
    y = _hops(worker, io, x)
    mon = np.zeros(len(x), np.float32)
    worker.monitor.read(mon)
    np.testing.assert_allclose(y, -x * 10 ** (-6 / 20), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mon, -x * 10 ** (-12 / 20), rtol=1e-5, atol=1e-7)


def test_late_hops_skip_the_voice_and_keep_the_timeline():
    voice = InvertVoice(48000, 256)
    worker, io = _worker(voice=voice)
    x = _noise(256 * 6)
    _hops(worker, io, x[:1024])  # four wet hops: the worker knows the voice's cost now
    assert voice.steps == 4
    io.out.read(np.zeros(1536, np.float32))  # the device played 1536 frames past what was written
    io.inp.write(x[1024:])
    worker._one_hop()
    worker._one_hop()
    assert worker.late_hops == 2 and voice.steps == 4  # dropped without running the voice
    # The late hops were for positions already played: discarded, so the lag did not grow.
    assert io.out.frames_written == 256 + 1536 and io.out.frames_read == 256 + 2560
    assert io.out.available_read == 0 and worker.fill_now == 256


class _BrokenVoice(InvertVoice):
    def step(self, x, state):
        if self.steps >= 3:
            raise RuntimeError("weights went missing")
        return super().step(x, state)


def test_a_failing_voice_stops_the_worker_with_a_readable_error():
    errors = []
    worker, io = _worker(voice=_BrokenVoice(48000, 256))
    worker.on_error = errors.append
    io.inp.write(_noise(256 * 8))
    worker.start()
    worker.thread.join(timeout=10)
    assert not worker.thread.is_alive()
    assert errors == ["The voice 'invert' failed and the engine stopped: RuntimeError: weights went missing"]


class _Status:
    input_overflow = output_underflow = False


class _Times:
    def __init__(self, t: float) -> None:
        self.inputBufferAdcTime = self.currentTime = self.outputBufferDacTime = t


def _device(worker, io, x, periods):
    """Play ``x`` through the worker as a host would: per cycle, ``period`` frames in and out through
    the real callback, then the worker runs every whole hop it was given (a quick worker).
    Returns what the device played."""
    played, pos = [], 0
    for k, period in enumerate(periods):
        indata = x[pos : pos + period, None]
        outdata = np.zeros((period, 1), np.float32)
        io.callback(indata, outdata, period, _Times(k + 1.0), _Status())
        io.last_call = time.perf_counter() + 3600  # no deadline: a loaded test host makes no hop late
        played.append(outdata[:, 0])
        pos += period
        while io.inp.available_read >= worker.hop:
            worker._one_hop()
    return np.concatenate(played)


def _sine(n, f=440.0, amp=0.5):
    return (amp * np.sin(2 * np.pi * f * np.arange(n) / 48000)).astype(np.float32)


SINE_SLOPE = 0.5 * 2 * np.pi * 440 / 48000  # the largest step between two samples of _sine()


def test_a_longer_period_is_planned_at_once_and_the_gap_fades_instead_of_clicking():
    worker, io = _worker(played=False, crossfade_ms=2.5)
    periods = [256] * 40 + [1024] * 30
    x = _sine(sum(periods))
    y = _device(worker, io, x, periods)
    plan = worker.plan
    assert (plan.period, plan.fill) == (1024, 1024)  # 1024 + 256 - gcd
    assert worker.fill_now == 1024 and worker.replans == 1
    # one underflow, in the first long cycle (it asked for more than the old pre-fill could hold)
    assert io.out.underruns == 1 and worker.period_gaps == 1
    change = 40 * 256
    np.testing.assert_array_equal(y[256:change], x[: change - 256])  # before: the old lag (256)
    later = change + 4096
    np.testing.assert_allclose(y[later:], x[later - 1024 : len(y) - 1024], atol=1e-6)  # after: the new
    # in between: a fade-out, silence and a fade-in; never a step larger than the sine's own
    steps = np.abs(np.diff(y))
    assert steps.max() <= 1.2 * SINE_SLOPE, (steps.max(), int(np.argmax(steps)))


def test_a_shorter_period_shrinks_the_prefill_smoothly():
    worker, io = _worker(played=False, crossfade_ms=2.5)
    periods = [1024] * 4 + [256] * 500
    x = _sine(sum(periods))
    y = _device(worker, io, x, periods)
    assert worker.plan.period == 256 and worker.plan.fill == 256
    assert worker.fill_now == 256  # the surplus went out, a few frames per hop
    assert io.out.underruns == 1  # the first long cycle (the start planned for 256), never again
    tail = len(y) // 2
    np.testing.assert_allclose(y[tail:], x[tail - 256 : len(y) - 256], atol=1e-6)
    assert np.abs(np.diff(y[4 * 1024 :])).max() <= 1.2 * SINE_SLOPE  # played slightly faster: no step


def test_the_monitor_is_realigned_by_its_writer_alone():
    """When the monitor plays late, the worker leaves frames out of what it writes next; the read
    position belongs to the monitor's callback and only moves with it."""
    worker, io = _worker(monitor=True)
    mon = worker.monitor

    class _MonitorIO:
        callbacks = 10
        last_call = 0.0

        def __init__(self, ring):
            self.out = ring

    mio = _MonitorIO(mon)
    worker.monitor_io = mio
    io.callbacks = 10
    io.last_call = mio.last_call = 0.0  # both streams called at the same instant
    mon.write(np.zeros(100, np.float32))  # the monitor got 100 frames ahead of the main output
    x = _noise(256 * 6)
    io.inp.write(x)
    read_before = mon.frames_read
    for _ in range(6):
        worker._one_hop()
    assert mon.frames_read == read_before  # never moved by the writer
    # main and monitor now hold the same frames ahead of their readers
    assert mon.frames_written - mon.frames_read == io.out.frames_written - io.out.frames_read
    ahead = mon.frames_written - mon.frames_read
    main_out, mon_out = np.zeros(ahead, np.float32), np.zeros(ahead, np.float32)
    io.out.read(main_out)
    mon.read(mon_out)
    np.testing.assert_allclose(mon_out[-256:], main_out[-256:], atol=1e-6)  # the same frames, in step


def test_the_worker_waits_for_the_callback_and_never_sleeps(monkeypatch):
    """Signalled wake-up: the worker blocks until a hop of input arrives, then runs it; no sleep
    loop on the hot path (``time.sleep`` is not called)."""
    import audio.worker as worker_module
    from audio.stream import SocketWake

    def no_sleep(_s):
        raise AssertionError("the worker slept instead of waiting for the callback")

    worker, io = _worker()
    io.wake = SocketWake()
    io.wake_frames = 256
    io.last_call = time.perf_counter()
    monkeypatch.setattr(worker_module.time, "sleep", no_sleep)
    worker.start()
    try:
        out = np.zeros((256, 1), np.float32)
        x = _noise(256 * 8)
        for k in range(8):
            io.callback(x[k * 256 : (k + 1) * 256, None], out, 256, _Times(k + 1.0), _Status())
            deadline = time.monotonic() + 5
            while worker.hops < k + 1 and time.monotonic() < deadline:
                time.monotonic()
            assert worker.hops == k + 1
        assert worker.thread.is_alive()
    finally:
        worker.stop_requested = True
        worker.thread.join(timeout=5)
        io.close()
