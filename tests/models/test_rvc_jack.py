"""The realtime RVC voice (community-size rule-weight v2 40k model) through the real engine and JACK.

The engine runs at 48 kHz, the voice at 40 kHz with 0.25 s blocks. On a CPU that cannot keep up,
the engine must say so (late hops / underflows counted) and keep the lag constant: every hop it
could not convert is the dry input (``late_policy="dry"``) at one and the same planned lag.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from audio.config import EngineConfig
from audio.engine import Engine
from benchkit.jackbench import JackHarness, measure_lag, window_correlations
from models.base import VoiceParams
from models.rvc.inference import open_realtime_voice
from models.rvc.realtime import RealtimeConfig
from tests.rvc_files import rule_model_files

pytestmark = [pytest.mark.jack, pytest.mark.slow]
RATE = 48000
PERIOD = 1024


def test_rvc_voice_streams_through_the_engine_with_a_constant_lag(jack_server):
    files = rule_model_files()
    voice = open_realtime_voice(
        files["voice"],
        files["hubert"],
        files["rmvpe"],
        files["index"],
        RealtimeConfig(block_time=0.25, extra_time=0.5, crossfade_time=0.05),
        VoiceParams(pitch=3, index_rate=0.75, f0_method="fcpe"),
    )
    server = jack_server(RATE, PERIOD)
    engine = Engine(EngineConfig(samplerate=RATE, hop=PERIOD, margin=PERIOD, late_policy="dry"), voice)
    engine.start()
    try:
        time.sleep(0.5)
        with JackHarness(server) as bench:
            bench.connect_app()
            x = bench.test_signal(6.0, seed=3)
            rec = bench.play_record(x, tail=1.0)[0]
            stats = engine.stats()  # while the harness is connected: JACK knows the path's latency
        assert engine.running and engine.error is None, engine.error
    finally:
        engine.stop()
    assert np.isfinite(rec).all() and np.abs(rec).max() > 1e-3
    planned = round(stats.planned.total * RATE)
    assert stats.planned.voice == pytest.approx(voice.latency / voice.sample_rate)
    if stats.late_hops + stats.output_underflows == 0:
        # it kept up: everything converted, nothing dropped, no dry input in the output
        assert (window_correlations(x, rec, planned) > 0.95).mean() < 0.05
        return
    # The engine said so. What it could not convert is the dry input: find its lag separately in
    # the first and the second half of the run; a growing backlog would move it.
    half = len(x) // 2
    lags = []
    for start in (0, half):
        lag, corr = measure_lag(x[start : start + half], rec[start : start + half + RATE])
        assert corr > 0.1, (stats.late_hops, stats.output_underflows)
        assert (window_correlations(x[start : start + half], rec[start:], lag) > 0.95).sum() >= 5
        lags.append(lag)
    assert lags[0] == lags[1]
    # dropped hops go through a delay of the voice's latency: they sit at the planned lag itself
    assert abs(lags[0] - planned) <= PERIOD
