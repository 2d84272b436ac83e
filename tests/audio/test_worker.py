"""The processing side without a device: pipeline lag, gate, gains, bypass, swap, monitor.

The worker's hop function is driven directly on real rings (no thread, no stream), so every
output sample can be checked exactly.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.config import EngineConfig, LiveParams
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


def _worker(voice=None, monitor=False, **cfg):
    config = EngineConfig(samplerate=48000, hop=256, prefill=0, crossfade_ms=1.0, worker_priority=0, **cfg)
    io = DuplexIO(RingBuffer(48000), RingBuffer(48000, keep_timeline=True))
    mon = RingBuffer(48000, keep_timeline=True) if monitor else None
    pipe = VoicePipeline(voice or PassthroughVoice(48000, 256), 48000, 256)
    worker = Worker(config, io, pipe, LiveParams(), 48000, mon, on_error=lambda msg: None)
    worker.mark_started(target_fill=4096)
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
    worker.params = LiveParams(gate_db=-3.0)  # louder than the signal: everything is gated
    assert np.all(_hops(worker, io, x) == 0.0)


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
    assert io.out.frames_written == 1536 and io.out.frames_read == 2560 and io.out.available_read == 0


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
