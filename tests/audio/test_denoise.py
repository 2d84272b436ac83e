"""The noise suppressor as the engine's input stage: streaming in any hop equals the whole stream,
its lag at any device rate is the one it plans (measured), light keeps more than strong."""

from __future__ import annotations

import numpy as np
import pytest

from audio.denoise import NoiseStage
from audio.worker import VoicePipeline
from benchkit.signals import mix_at_snr, noise, speech
from dsp import rnnoise


def _stream(pipe: VoicePipeline, x: np.ndarray, hop: int) -> np.ndarray:
    n = len(x) // hop * hop
    return np.concatenate([pipe.process(x[i : i + hop], "wet") for i in range(0, n, hop)])


@pytest.fixture(scope="module")
def noisy48() -> np.ndarray:
    clean = speech(48000, sentence=2)
    return mix_at_snr(clean, noise("pink", 48000, len(clean), seed=1), 10.0)


def test_any_hop_gives_the_same_stream_at_its_own_lag(noisy48):
    """Hops of 256, 480 and 333 frames: the same frames reach RNNoise, only the FIFO in front of
    the output differs, and each pipeline's lag says by how much."""
    outs = {}
    for hop in (480, 256, 333):
        pipe = VoicePipeline(NoiseStage("strong"), 48000, hop)
        y = _stream(pipe, noisy48, hop)
        assert pipe.lag == pipe.prefill + rnnoise.DELAY
        outs[hop] = y[pipe.prefill :]
    n = min(len(v) for v in outs.values())
    np.testing.assert_array_equal(outs[256][:n], outs[480][:n])
    np.testing.assert_array_equal(outs[333][:n], outs[480][:n])
    assert VoicePipeline(NoiseStage("strong"), 48000, 480).lag == rnnoise.DELAY  # no FIFO at 10 ms


@pytest.mark.parametrize("rate", [44100, 16000])
def test_the_lag_at_another_device_rate_is_the_planned_one(rate):
    """Resampled to 48 kHz and back: speech comes out at ``pipe.lag`` (fractional) frames."""
    clean = speech(rate, sentence=0)
    hop = rate // 100
    pipe = VoicePipeline(NoiseStage("strong"), rate, hop)
    y = _stream(pipe, clean, hop)
    lags = np.arange(int(pipe.lag) - 40, int(pipe.lag) + 40)
    corr = [float(np.dot(clean[: len(y) - k - 1], y[k : len(y) - 1])) for k in lags]
    best = int(lags[int(np.argmax(corr))])
    assert abs(best - pipe.lag) <= 1.0, (best, pipe.lag)


def test_light_keeps_a_quarter_of_what_strong_removes(noisy48):
    strong = _stream(VoicePipeline(NoiseStage("strong"), 48000, 480), noisy48, 480)
    light = _stream(VoicePipeline(NoiseStage("light"), 48000, 480), noisy48, 480)
    d = rnnoise.DELAY
    dry = noisy48[: len(strong) - d]
    removed = dry - strong[d:]
    np.testing.assert_allclose(light[d:] - strong[d:], 0.25 * removed, atol=1e-5)
    with pytest.raises(ValueError, match="light' or 'strong"):
        NoiseStage("off")  # type: ignore[arg-type]
