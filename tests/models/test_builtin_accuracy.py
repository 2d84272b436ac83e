"""Built-in voice accuracy, measured with librosa (an independent tracker), not our own detector.

f0: librosa.yin on input and output (output aligned by the voice's latency), on frames that
librosa.pyin calls voiced in both, away from voicing edges. Formants: LPC resonances.
"""

from __future__ import annotations

import shutil
import subprocess

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from models.base import Voice, VoiceParams
from models.builtin import create_voice
from tests.builtin_signals import harmonic, vowel

SHIFTS = (-7.0, -3.0, 4.0, 12.0)
TOLERANCE_CENTS = 15.0


def _convert(voice: Voice, x: np.ndarray) -> np.ndarray:
    """Stream ``x`` through ``voice`` and return the output aligned with the input."""
    hop = voice.hop
    padded = np.concatenate((x, np.zeros(voice.latency + hop, np.float32)))
    state = voice.init_state()
    out = []
    for i in range(0, len(padded) - hop + 1, hop):
        y, state = voice.step(padded[i : i + hop], state)
        out.append(y)
    return np.concatenate(out)[voice.latency : voice.latency + len(x)]


def _f0(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(yin f0 [frames], pyin voiced flag [frames]) at 16 kHz, 64 ms frames, 16 ms hop."""
    y = signal.resample_poly(x.astype(np.float64), 16000, sr)
    kw = {"fmin": 50.0, "fmax": 1100.0, "sr": 16000, "frame_length": 1024, "hop_length": 256}
    f0 = librosa.yin(y, **kw)
    _, voiced, _ = librosa.pyin(y, **kw)
    return f0, voiced


def _stable(voiced: np.ndarray, margin: int = 2) -> np.ndarray:
    """Voiced frames with ``margin`` voiced neighbours on each side."""
    out = voiced.copy()
    for k in range(1, margin + 1):
        out[k:] &= voiced[:-k]
        out[:-k] &= voiced[k:]
        out[:k] = out[-k:] = False
    return out


def _cents_errors(
    x: np.ndarray, sr: int, voice: Voice, shifts=SHIFTS, steady: np.ndarray | None = None
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Per shift: |output f0 - shifted input f0| in cents on frames voiced in both, and which
    of those frames are in ``steady`` (all if None)."""
    f_in, v_in = _f0(x, sr)
    frames = _stable(v_in)
    steady = np.ones_like(frames) if steady is None else steady
    errors = {}
    for semitones in shifts:
        voice.set_params(VoiceParams(pitch=semitones))
        f_out, v_out = _f0(_convert(voice, x), sr)
        both = frames & v_out
        assert both.sum() > 0.5 * frames.sum(), f"{semitones:+g} st: output voiced on too few frames"
        err = np.abs(1200 * np.log2(f_out[both] / f_in[both]) - 100 * semitones)
        errors[semitones] = (err, steady[both])
    return errors


@pytest.mark.slow
def test_pitch_shift_is_accurate_on_a_harmonic_signal():
    sr = 48000
    x = harmonic(sr, 2.0, f0=150.0, glide=0.15)
    errors = _cents_errors(x, sr, create_voice("shift", sr, 256))
    for semitones, (err, _) in errors.items():
        assert np.median(err) < TOLERANCE_CENTS / 3, (semitones, np.median(err))
        assert np.percentile(err, 95) < TOLERANCE_CENTS, (semitones, np.percentile(err, 95))


def _espeak(args: list[str], folder) -> tuple[np.ndarray, int]:
    """An English sentence from espeak-ng, float32 at its native rate."""
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is required (apt install espeak-ng)"
    path = folder / "speech.wav"
    text = "Hello there, how are you doing today? This is a test of the voice changer."
    subprocess.run([exe, *args, "-w", str(path), text], check=True, capture_output=True, timeout=60)
    x, sr = sf.read(path, dtype="float32")
    return x, sr


@pytest.mark.slow
@pytest.mark.parametrize("espeak_args", [["-p", "70"], []], ids=["espeak-p70", "espeak-default"])
def test_pitch_shift_is_accurate_on_speech(espeak_args, tmp_path):
    """Median over all stably voiced frames, and the 90th percentile over frames whose pitch is
    steady (input f0 moving < 15 cents per 16 ms frame): on espeak's fast glides a 64 ms analysis
    frame has no single f0, so the reference tracker itself disagrees with itself there."""
    x, sr = _espeak(espeak_args, tmp_path)
    x48 = signal.resample_poly(x, 48000, sr).astype(np.float32)  # the engine's usual 48 kHz
    f_in, _ = _f0(x48, 48000)
    slope = np.abs(np.gradient(1200 * np.log2(np.maximum(f_in, 1.0))))
    errors = _cents_errors(x48, 48000, create_voice("shift", 48000, 256), steady=slope < 15)
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
    ratio = _formants(_convert(voice, x), sr) / _formants(x, sr)
    assert np.all(np.abs(ratio - 1) < 0.06), ratio


@pytest.mark.parametrize("formant", [-3.0, 3.0])
def test_formant_shift_moves_formants_and_keeps_pitch(formant):
    sr = 48000
    x = vowel(sr, 1.5)
    voice = create_voice("shift", sr, 256)
    voice.set_params(VoiceParams(formant=formant))
    y = _convert(voice, x)
    expected = 2 ** (formant / 12)
    ratio = _formants(y, sr) / _formants(x, sr)
    assert np.all(np.abs(ratio / expected - 1) < 0.05), (ratio, expected)
    f_in, v_in = _f0(x, sr)
    f_out, v_out = _f0(y, sr)
    both = _stable(v_in) & v_out
    assert np.median(np.abs(1200 * np.log2(f_out[both] / f_in[both]))) < TOLERANCE_CENTS / 3
