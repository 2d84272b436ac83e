"""A built-in pitch-shift voice through the real engine and JACK: the output pitch is measured."""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.config import EngineConfig, LiveParams
from audio.engine import Engine
from benchkit.jackbench import JackHarness, assert_faithful, engine_events, measure_lag
from models.base import VoiceParams
from models.builtin import create_voice

pytestmark = pytest.mark.jack
RATE = 48000


def _tone(f0: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum((0.5 / k) * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 20))
    return (0.2 * x).astype(np.float32)


def _f0(x: np.ndarray, lo: float = 60.0, hi: float = 600.0) -> float:
    """Autocorrelation pitch of a steady segment with parabolic peak interpolation (independent tracker)."""
    x = x - x.mean()
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac /= np.arange(n, 0, -1)  # unbiased
    a, b = int(RATE / hi), int(RATE / lo)
    r = ac[a:b] / ac[0]
    # the first local maximum close to the best one (avoids octave-down errors)
    peaks = [i for i in range(1, len(r) - 1) if r[i] >= r[i - 1] and r[i] >= r[i + 1]]
    best = max(r[i] for i in peaks)
    k = a + next(i for i in peaks if r[i] >= 0.9 * best)
    y0, y1, y2 = ac[k - 1], ac[k], ac[k + 1]
    k = k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return RATE / k


@pytest.mark.parametrize("semitones", [5.0, -7.0])
def test_shift_voice_changes_the_pitch_by_the_requested_interval(jack_server, semitones):
    server = jack_server(RATE, 256)
    f0 = 180.0
    engine = Engine(EngineConfig(samplerate=RATE, hop=256, margin=256), create_voice("shift", RATE, 256))
    engine.set_params(LiveParams(voice=VoiceParams(pitch=semitones)))
    engine.start()
    try:
        time.sleep(0.3)
        with JackHarness(server) as bench:
            bench.connect_app()
            x = _tone(f0, 2.0)
            rec = bench.play_record(x, tail=0.3)
    finally:
        engine.stop()
    lag = round(engine.stats().planned.total * RATE)
    y = rec[0, lag : lag + len(x)]
    windows = [y[s : s + 4096] for s in range(RATE // 2, len(y) - 4096, 2048)]
    cents = [1200 * np.log2(_f0(w) / f0) for w in windows]
    assert np.median(np.abs(np.array(cents) - 100 * semitones)) < 15, cents


def test_shift_at_zero_is_the_input_delayed_by_the_planned_lag(jack_server):
    server = jack_server(RATE, 256)
    voice = create_voice("shift", RATE, 256)
    assert voice.latency > 0
    engine = Engine(EngineConfig(samplerate=RATE, hop=256, margin=256), voice)
    engine.start()
    try:
        time.sleep(0.3)
        with JackHarness(server) as bench:
            bench.connect_app()
            x = bench.test_signal(1.5)
            before = engine.stats()
            rec = bench.play_record(x, tail=0.3, attempts=3)
            stats = engine.stats()
            device_lag = bench.device_lag
    finally:
        engine.stop()
    lag, _ = measure_lag(x, rec[0])
    assert lag == round(stats.planned.total * RATE)
    assert lag - device_lag == 256 + 256 + voice.latency  # hop + prefill + the voice's own latency
    events = engine_events(before, stats)
    # the input, unchanged, wherever neither the host nor a counted late hop glitched
    assert_faithful(
        x, rec[0], lag, bench.disturbances, 256, engine_events=events, hop=256, spread=voice.latency
    )
