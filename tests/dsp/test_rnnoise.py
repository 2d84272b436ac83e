"""RNNoise through ctypes: it loads from the pyrnnoise wheel, its delay is what dsp/rnnoise.py
claims (measured on speech), and it removes noise."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit.signals import mix_at_snr, noise, speech
from dsp import rnnoise


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return speech(48000, sentence=1)


def _run(x: np.ndarray) -> np.ndarray:
    net = rnnoise.RNNoise()
    n = len(x) // rnnoise.FRAME * rnnoise.FRAME
    y = np.concatenate([net.process(x[i : i + rnnoise.FRAME])[0] for i in range(0, n, rnnoise.FRAME)])
    net.close()
    return y


def _correlation(a: np.ndarray, b: np.ndarray, lag: int) -> float:
    m = min(len(a), len(b) - lag)
    a, b = a[:m].astype(np.float64), b[lag : lag + m].astype(np.float64)
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def test_the_library_loads_without_importing_the_package():
    assert rnnoise.unavailable_reason() is None
    assert rnnoise.library_path().name.startswith(("librnnoise", "rnnoise"))
    import sys

    assert "pyrnnoise" not in sys.modules  # its __init__ pulls in FFmpeg bindings we do not ship


def test_its_delay_is_the_claimed_one(clean):
    """Speech passes nearly unchanged, at exactly DELAY samples: the best-matching lag."""
    y = _run(clean)
    lags = range(rnnoise.DELAY - 3 * rnnoise.FRAME // 2, rnnoise.DELAY + 3 * rnnoise.FRAME // 2)
    corr = [_correlation(clean, y, lag) for lag in lags]
    best = lags[int(np.argmax(corr))]
    assert best == rnnoise.DELAY, (best, max(corr))
    assert max(corr) > 0.95


@pytest.mark.parametrize("kind", ["white", "clicks"])
def test_it_removes_noise_from_speech(clean, kind):
    """0 dB SNR in; the output is much closer to the clean speech (delayed) than the input was."""
    noisy = mix_at_snr(clean, noise(kind, 48000, len(clean), seed=3), 0.0)
    y = _run(noisy)
    d = rnnoise.DELAY
    ref = clean[: len(y) - d]

    def snr(z: np.ndarray) -> float:
        err = z - ref
        return float(10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum(err.astype(np.float64) ** 2)))

    before, after = snr(noisy[: len(ref)]), snr(y[d:])
    assert after > before + 5.0, (before, after)
