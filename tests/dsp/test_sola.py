"""SOLA: finds the true offset, crossfades without a discontinuity, stays pure; fade helpers."""

import numpy as np
import pytest

from dsp.sola import Sola, crossfade, equal_gain_fade, equal_power_fade


def test_fades_are_complementary():
    fin, fout = equal_power_fade(64)
    np.testing.assert_allclose(fin**2 + fout**2, 1.0, atol=1e-6)
    gin, gout = equal_gain_fade(64)
    np.testing.assert_allclose(gin + gout, 1.0, atol=1e-6)
    assert fin[0] < 0.05 and fin[-1] > 0.99


def test_crossfade_between_equal_signals_is_identity():
    x = np.random.default_rng(0).standard_normal(50).astype(np.float32)
    np.testing.assert_allclose(crossfade(x, x, equal_gain_fade(50)), x, atol=1e-6)


def test_finds_the_shift_of_overlapping_chunks_and_reconstructs_the_signal():
    hop, cf, search = 160, 64, 48
    sola = Sola(hop, cf, search)
    rng = np.random.default_rng(3)
    signal = np.convolve(rng.standard_normal(20000), np.ones(5) / 5, "same").astype(np.float32)
    outputs = []
    shifts = rng.integers(0, search + 1, size=40)
    # chunk k starts at k*hop - shift_k, so after the first chunk the best offset is shift_k.
    start = 1000
    for k, s in enumerate(shifts):
        begin = start + k * hop - (0 if k == 0 else int(s))
        chunk = signal[begin : begin + sola.chunk_size]
        outputs.append(sola.process(chunk).copy())
        if k:
            assert sola.offset == s
    y = np.concatenate(outputs)
    np.testing.assert_allclose(y, signal[start : start + len(y)], atol=1e-5)


def test_crossfade_removes_the_jump_between_unaligned_chunks():
    hop, cf = 128, 64
    sola = Sola(hop, cf, 0)
    t = np.arange(sola.chunk_size, dtype=np.float32)
    sola.process(np.sin(0.05 * t).astype(np.float32))
    out = sola.process(np.sin(0.05 * t + 2.0).astype(np.float32)).copy()
    assert abs(out[0] - np.sin(0.05 * (hop + 0.5))) < 0.1  # starts on the previous tail


def test_rejects_wrong_chunk_size():
    with pytest.raises(ValueError, match="expects"):
        Sola(100, 20, 10).process(np.zeros(100, np.float32))


def test_crossfade_in_place_on_either_input():
    a = np.linspace(0, 1, 16, dtype=np.float32)
    b = np.linspace(1, 0, 16, dtype=np.float32)
    fades = equal_gain_fade(16)
    expected = crossfade(a, b, fades)
    a2, b2 = a.copy(), b.copy()
    np.testing.assert_allclose(crossfade(a2, b2, fades, out=b2), expected, atol=1e-7)
    a3, b3 = a.copy(), b.copy()
    np.testing.assert_allclose(crossfade(a3, b3, fades, out=a3), expected, atol=1e-7)
