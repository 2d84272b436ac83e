"""Built-in voice accuracy, measured with librosa (an independent tracker), not our own detector.

f0: ``benchkit.pitch_accuracy`` (librosa.yin on input and output, on frames librosa.pyin calls
voiced in both, away from voicing edges). Formants: LPC resonances.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from scipy import signal

from benchkit.pitch_accuracy import cents_errors, convert, espeak, f0_track, stable
from benchkit.signals import harmonic, vowel
from models.base import VoiceParams
from models.builtin import create_voice

TOLERANCE_CENTS = 15.0


@pytest.mark.slow
def test_pitch_shift_is_accurate_on_a_harmonic_signal():
    sr = 48000
    x = harmonic(sr, 2.0, f0=150.0, glide=0.15)
    errors = cents_errors(x, sr, create_voice("shift", sr, 256))
    for semitones, (err, _) in errors.items():
        assert np.median(err) < TOLERANCE_CENTS / 3, (semitones, np.median(err))
        assert np.percentile(err, 95) < TOLERANCE_CENTS, (semitones, np.percentile(err, 95))


@pytest.mark.slow
@pytest.mark.parametrize("espeak_args", [["-p", "70"], []], ids=["espeak-p70", "espeak-default"])
def test_pitch_shift_is_accurate_on_speech(espeak_args, tmp_path):
    """Median over all stably voiced frames, and the 90th percentile over frames whose pitch is
    steady (input f0 moving < 15 cents per 16 ms frame): on espeak's fast glides a 64 ms analysis
    frame has no single f0, so the reference tracker itself disagrees with itself there."""
    x, sr = espeak(espeak_args, tmp_path)
    x48 = signal.resample_poly(x, 48000, sr).astype(np.float32)  # the engine's usual 48 kHz
    f_in, _ = f0_track(x48, 48000)
    slope = np.abs(np.gradient(1200 * np.log2(np.maximum(f_in, 1.0))))
    errors = cents_errors(x48, 48000, create_voice("shift", 48000, 256), steady=slope < 15)
    for semitones, (err, steady) in errors.items():
        assert np.median(err) < TOLERANCE_CENTS * 2 / 3, (semitones, np.median(err))
        assert np.median(err[steady]) < TOLERANCE_CENTS / 2, (semitones, np.median(err[steady]))
        assert np.percentile(err[steady], 90) < TOLERANCE_CENTS, (semitones, np.percentile(err[steady], 90))


def _formants(x: np.ndarray, sr: int, count: int = 2) -> np.ndarray:
    """Median of the lowest ``count`` LPC resonances (Hz) over 80 ms frames, at 10 kHz."""
    y = signal.resample_poly(x.astype(np.float64), 10000, sr)
    y = signal.lfilter([1.0, -0.7], [1.0], y)  # mild pre-emphasis
    frame, found = 800, []
    for start in range(2000, len(y) - frame, frame // 2):
        seg = y[start : start + frame] * np.hanning(frame)
        roots = np.roots(librosa.lpc(seg, order=10))
        roots = roots[np.imag(roots) > 0]
        freqs = np.angle(roots) * 10000 / (2 * np.pi)
        bws = -np.log(np.abs(roots)) * 10000 / np.pi
        keep = np.sort(freqs[(freqs > 250) & (bws < 400)])
        if len(keep) >= count:
            found.append(keep[:count])
    return np.median(np.array(found), axis=0)


@pytest.mark.parametrize("pitch", [-9.0, -5.0, 5.0, 12.0])
def test_pitch_shift_keeps_formants(pitch):
    sr = 48000
    x = vowel(sr, 1.5)
    voice = create_voice("shift", sr, 256)
    voice.set_params(VoiceParams(pitch=pitch))
    ratio = _formants(convert(voice, x), sr) / _formants(x, sr)
    assert np.all(np.abs(ratio - 1) < 0.06), ratio


@pytest.mark.parametrize("formant", [-3.0, 3.0])
def test_formant_shift_moves_formants_and_keeps_pitch(formant):
    sr = 48000
    x = vowel(sr, 1.5)
    voice = create_voice("shift", sr, 256)
    voice.set_params(VoiceParams(formant=formant))
    y = convert(voice, x)
    expected = 2 ** (formant / 12)
    ratio = _formants(y, sr) / _formants(x, sr)
    assert np.all(np.abs(ratio / expected - 1) < 0.05), (ratio, expected)
    f_in, v_in = f0_track(x, sr)
    f_out, v_out = f0_track(y, sr)
    both = stable(v_in) & v_out
    assert np.median(np.abs(1200 * np.log2(f_out[both] / f_in[both]))) < TOLERANCE_CENTS / 3
