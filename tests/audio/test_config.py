"""Engine dataclasses: validation, latency arithmetic, level helpers."""

import dataclasses

import numpy as np
import pytest

from audio.config import EngineConfig, EngineStats, LatencyBreakdown, LiveParams, db_to_gain, level_db
from models.base import VoiceParams


@pytest.mark.parametrize(
    "bad",
    [
        {"hop": 8},
        {"samplerate": 1000},
        {"prefill": -1},
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
    parts = {"device_in": 0.001, "device_out": 0.01, "prefill": 0.005, "hop": 0.005, "resampler": 0.001}
    b = LatencyBreakdown.build(**parts, voice=0.02)
    assert b.total == pytest.approx(0.042)
    assert b.engine == pytest.approx(0.031)
    assert b.describe().startswith("42.0 ms (")


def test_levels_and_gains():
    assert db_to_gain(-6.0) == pytest.approx(0.501187, rel=1e-5)
    assert level_db(np.zeros(10, np.float32)) == -120.0
    assert level_db(np.ones(10, np.float32)) == pytest.approx(0.0, abs=1e-6)
    assert EngineStats().measured_latency is None and EngineStats().hop_times.size == 0
