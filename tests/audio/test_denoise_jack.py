"""Noise suppression live: speech in noise through the engine on JACK comes back cleaner, at the
planned lag (which includes the suppressor's 20 ms)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.config import EngineConfig
from audio.engine import Engine
from benchkit.jackbench import JackHarness
from benchkit.signals import mix_at_snr, noise, speech
from dsp import rnnoise
from models.base import PassthroughVoice

pytestmark = [pytest.mark.jack, pytest.mark.slow]
RATE, PERIOD = 48000, 256


def _snr(reference: np.ndarray, y: np.ndarray) -> float:
    err = (y - reference).astype(np.float64)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / np.sum(err**2)))


def test_speech_in_noise_comes_back_cleaner_at_the_planned_lag(jack_server):
    server = jack_server(RATE, PERIOD)
    clean = speech(RATE, sentence=1)
    noisy = mix_at_snr(clean, noise("white", RATE, len(clean), seed=5), 0.0)
    engine = Engine(EngineConfig(samplerate=RATE, noise_suppression="strong"), PassthroughVoice(RATE, 480))
    engine.start()
    try:
        time.sleep(0.5)
        with JackHarness(server) as bench:
            bench.connect_app()
            time.sleep(0.5)
            rec = bench.play_record(noisy, tail=0.3, attempts=3)[0]
            stats = engine.stats()
    finally:
        engine.stop()
    planned = round(stats.planned.total * RATE)
    assert stats.planned.denoise == pytest.approx(rnnoise.DELAY / RATE)  # hop 480: no framing FIFO
    # the clean speech is where the plan says, and nowhere nearby fits as well
    lags = np.arange(planned - 600, planned + 600)
    fit = [float(np.dot(clean[:-2000], rec[k : k + len(clean) - 2000])) for k in lags]
    assert int(lags[int(np.argmax(fit))]) == planned
    y = rec[planned : planned + len(clean)]
    before, after = _snr(clean, noisy), _snr(clean, y)
    assert after > before + 5.0, (before, after)
