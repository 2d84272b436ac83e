"""StreamResampler: streaming equals one-shot, exact delay, passband gain, many rate pairs."""

import numpy as np
import pytest

from dsp.resample import StreamResampler

PAIRS = [
    (48000, 16000),
    (16000, 48000),
    (48000, 40000),
    (40000, 48000),
    (44100, 16000),
    (16000, 44100),
    (44100, 48000),
    (48000, 48000),
]


def _chunks(x, rng):
    pos = 0
    while pos < len(x):
        n = int(rng.integers(0, 700))
        yield x[pos : pos + n]
        pos += n


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_streaming_equals_one_shot(a, b):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(9000).astype(np.float32)
    one = StreamResampler(a, b).process(x)
    stream = StreamResampler(a, b)
    parts = [stream.process(c) for c in _chunks(x, rng)]
    np.testing.assert_array_equal(np.concatenate(parts), one)
    assert len(one) == -(-len(x) * b // a)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_sine_comes_out_delayed_by_exactly_delay(a, b):
    f = 1000.0
    n = a // 2
    x = np.sin(2 * np.pi * f * np.arange(n) / a).astype(np.float32)
    r = StreamResampler(a, b)
    y = r.process(x)
    m = np.arange(len(y))
    expected = np.sin(2 * np.pi * f * (m - r.delay) / b)
    settle = int(r.delay) * 2 + 10
    err = np.abs(y[settle:-10] - expected[settle:-10]).max()
    assert err < 2e-3, err


@pytest.mark.parametrize(("a", "b"), [(48000, 16000), (44100, 16000), (48000, 40000)])
def test_removes_content_above_the_lower_nyquist(a, b):
    low = min(a, b)
    f = 0.6 * low  # above low/2: must be suppressed when going down
    x = np.sin(2 * np.pi * f * np.arange(a) / a).astype(np.float32)
    y = StreamResampler(a, b).process(x)
    assert np.sqrt(np.mean(y[200:] ** 2)) < 0.01


def test_round_trip_delay_is_the_sum_and_latency_is_small():
    a, b = 48000, 16000
    down, up = StreamResampler(a, b), StreamResampler(b, a)
    assert down.delay / b < 1e-3 and up.delay / a < 1e-3
    rng = np.random.default_rng(1)
    # band-limited noise well inside 8 kHz
    win = np.hanning(31) / np.hanning(31).sum()
    x = np.convolve(rng.standard_normal(24000), win, "same").astype(np.float32)
    y = up.process(down.process(x))
    total = down.delay * a / b + up.delay
    seg = slice(2000, 20000)
    shifted = np.interp(np.arange(len(y))[seg] - total, np.arange(len(x)), x)
    assert np.corrcoef(y[seg], shifted)[0, 1] > 0.999


def test_reset_restarts_from_silence():
    r = StreamResampler(48000, 16000)
    x = np.random.default_rng(2).standard_normal(3000).astype(np.float32)
    first = r.process(x)
    r.reset()
    np.testing.assert_array_equal(r.process(x), first)
