"""Engine dataclasses: validation, latency arithmetic, level helpers."""

import dataclasses
import math

import numpy as np
import pytest

from audio.config import (
    EngineConfig,
    EngineStats,
    LatencyBreakdown,
    LiveParams,
    db_to_gain,
    level_db,
    min_safe_fill,
    plan_fill,
)
from models.base import VoiceParams


@pytest.mark.parametrize(
    "bad",
    [
        {"hop": 8},
        {"samplerate": 1000},
        {"margin": -1},
        {"wake": "spin"},
        {"late_policy": "loud"},
        {"crossfade_ms": 100.0},
        {"ring_seconds": 0.01},
        {"worker_priority": 99},
        {"watchdog_s": 0.0},
    ],
)
def test_engine_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        EngineConfig(**bad)


def test_configs_are_frozen_and_crossfade_is_bounded_by_the_hop():
    cfg = EngineConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.hop = 128  # type: ignore[misc]
    assert EngineConfig(crossfade_ms=50.0).crossfade_frames(48000, 256) == 256
    assert EngineConfig(crossfade_ms=2.5).crossfade_frames(48000, 256) == 120


def test_live_params_validate_and_carry_voice_params():
    p = LiveParams(voice=VoiceParams(pitch=3.0), output_gain_db=-6.0)
    assert p.voice.pitch == 3.0
    with pytest.raises(ValueError, match="gate_db"):
        LiveParams(gate_db=3.0)
    with pytest.raises(ValueError, match="input_gain_db"):
        LiveParams(input_gain_db=60.0)


def test_latency_breakdown_total_and_engine_part():
    parts = {"device_in": 0.001, "device_out": 0.01, "margin": 0.005, "hop": 0.005, "resampler": 0.001}
    b = LatencyBreakdown.build(**parts, voice=0.02, period=0.002, processing=0.003)
    assert b.total == pytest.approx(0.047)
    assert b.engine == pytest.approx(0.036)
    assert b.buffering == pytest.approx(0.015)
    assert b.describe().startswith("47.0 ms (device_in 1.0, device_out 10.0, hop 5.0, period 2.0")


def _simulated_min_fill(period: int, hop: int, processing: float, hops: int) -> int:
    """The smallest pre-fill without an underflow, found by playing the schedule through, frame
    by frame of pre-fill (an independent check of the closed form in ``min_safe_fill``)."""
    for fill in range(0, 8 * (period + hop) + int(processing) + 8):
        done = -math.inf
        for h in range(hops):
            ready = -(-(h + 1) * hop // period) * period  # the cycle that brings hop h's last frame
            done = max(ready, done) + processing
            taken_at = ((h * hop + fill) // period + 1) * period  # cycle that plays its first frame
            if done > taken_at:
                break
        else:
            return fill
    raise AssertionError("no fill found")


@pytest.mark.parametrize(
    ("period", "hop"),
    [(64, 128), (128, 128), (128, 624), (256, 480), (512, 128), (1024, 480), (2048, 441), (441, 480)],
)
def test_min_safe_fill_is_the_smallest_fill_without_an_underflow(period, hop):
    """period + hop - gcd(period, hop) for a worker that is quick; whole periods more for a slow one."""
    assert min_safe_fill(period, hop, 1e-3) == period + hop - math.gcd(period, hop)
    for share in (0.1, 0.3, 0.6, 0.9):
        processing = share * hop
        hops = 2 * math.lcm(period, hop) // hop + 8  # two whole patterns
        assert min_safe_fill(period, hop, processing) == _simulated_min_fill(period, hop, processing, hops)


def test_plan_fill_parts_add_up_and_a_voice_slower_than_real_time_does_not_explode():
    plan = plan_fill(128, 624, 200.0, margin=48)
    assert (plan.hop, plan.wait, plan.extra, plan.margin) == (624, 112, 128, 48)
    assert plan.fill == plan.hop + plan.wait + plan.extra + plan.margin == 912
    assert plan.minimum == 864
    # a voice that needs longer than a hop per hop cannot be held by any pre-fill: planned at real time
    assert plan_fill(256, 256, 10_000.0).fill == plan_fill(256, 256, 256.0).fill


def test_levels_and_gains():
    assert db_to_gain(-6.0) == pytest.approx(0.501187, rel=1e-5)
    assert level_db(np.zeros(10, np.float32)) == -120.0
    assert level_db(np.ones(10, np.float32)) == pytest.approx(0.0, abs=1e-6)
    assert EngineStats().measured_latency is None and EngineStats().hop_times.size == 0
