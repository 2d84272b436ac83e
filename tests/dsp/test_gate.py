"""The noise gate: hysteresis and hold (no chatter), smooth attack and release (no clicks)."""

from __future__ import annotations

import numpy as np

from dsp.gate import NoiseGate

RATE, HOP = 48000, 480


def _hops(gate: NoiseGate, levels_db: list[float], threshold: float) -> tuple[list[bool], np.ndarray]:
    """Feed constant-1 hops reporting ``levels_db``; return the open state per hop and the gains."""
    states, gains = [], []
    for level in levels_db:
        x = np.ones(HOP, np.float32)
        gate.process(x, threshold, level)
        states.append(gate.open)
        gains.append(x)
    return states, np.concatenate(gains)


def test_off_passes_everything():
    states, gains = _hops(NoiseGate(RATE), [-100.0] * 50, -120.0)
    assert all(states) and np.all(gains == 1.0)


def test_a_level_between_the_thresholds_does_not_chatter():
    gate = NoiseGate(RATE)
    # hovering around the threshold (-40 dB): -38, -43, -38, -43 ... stays inside the 6 dB hysteresis
    states, gains = _hops(gate, [-38.0, -43.0] * 40, -40.0)
    assert all(states) and np.all(gains == 1.0)


def test_it_closes_after_the_hold_and_releases_smoothly():
    gate = NoiseGate(RATE)
    states, gains = _hops(gate, [-20.0] * 5 + [-70.0] * 60, -40.0)
    hold_hops = int(np.ceil(gate.timing.hold_s * RATE / HOP))
    assert states[: 5 + hold_hops - 1] == [True] * (5 + hold_hops - 1)  # held through the pause
    assert not states[-1]
    assert gains[-1] == 0.0  # fully closed in the end
    assert np.max(np.abs(np.diff(gains))) < 0.01  # no step anywhere: a glide, not a cut


def test_it_opens_quickly_without_a_click():
    gate = NoiseGate(RATE)
    _hops(gate, [-70.0] * 40, -40.0)
    assert gate.gain == 0.0
    states, gains = _hops(gate, [-20.0] * 3, -40.0)
    assert states[0]
    assert gains[int(0.006 * RATE)] > 0.99  # open within 6 ms (attack 5 ms to -60 dB)
    assert np.max(np.abs(np.diff(gains))) < 0.05  # a 5 ms fade-in, not a step
