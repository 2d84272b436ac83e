"""Test signals for tests and benchmarks: buzzy harmonic tones, source-filter vowels, espeak-ng
speech, and recorded-style noises mixed at a given SNR."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


def harmonic(sr: int, seconds: float, f0: float = 140.0, glide: float = 0.2, seed: int = 0) -> np.ndarray:
    """A buzzy, vowel-like tone: every harmonic of a slowly gliding f0 (±``glide`` octaves at
    0.4 Hz) with 1/k amplitudes, plus faint noise; float32 ``[n]``."""
    t = np.arange(int(sr * seconds)) / sr
    f = f0 * 2.0 ** (glide * np.sin(2 * np.pi * 0.4 * t))
    phase = 2 * np.pi * np.cumsum(f) / sr
    x = np.zeros_like(t)
    for k in range(1, 40):
        if k * f0 * 2**glide < 0.45 * sr:
            x += (0.5 / k) * np.sin(k * phase)
    x = 0.25 * x + 0.002 * np.random.default_rng(seed).standard_normal(t.shape)
    return x.astype(np.float32)


def vowel(
    sr: int, seconds: float, f0: float = 120.0, formants=((700, 80), (1220, 90), (2600, 120))
) -> np.ndarray:
    """A source-filter vowel: a glottal-like pulse train (f0 with a slow ±3 % wobble) through
    two-pole resonators at ``formants`` ((Hz, bandwidth Hz), ...); float32 ``[n]``."""
    from scipy import signal

    t = np.arange(int(sr * seconds)) / sr
    f = f0 * (1 + 0.03 * np.sin(2 * np.pi * 0.5 * t))
    phase = np.cumsum(f) / sr
    pulses = np.diff(np.floor(phase), prepend=0.0)
    source = signal.lfilter([1.0], [1.0, -0.9], pulses)  # -6 dB/octave tilt
    y = source
    for freq, bw in formants:
        r = np.exp(-np.pi * bw / sr)
        a = [1.0, -2 * r * np.cos(2 * np.pi * freq / sr), r * r]
        y = signal.lfilter([1.0 - r], a, y)
    y = y - signal.lfilter([1.0], [1.0, -0.995], y) * 0.005  # remove slow drift
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


SENTENCES = (
    "The quick brown fox jumps over the lazy dog, and nobody saw it coming.",
    "Voice changers need clean input: keyboards, fans and breathing get in the way.",
    "Please call Stella and ask her to bring these things with her from the store.",
)


def speech(
    rate: int, sentence: int = 0, voice: str = "en", pitch: int = 50, folder: Path | None = None
) -> np.ndarray:
    """An espeak-ng sentence (``SENTENCES[sentence]``, espeak voice ``voice``, pitch 0-99),
    resampled to ``rate``, peak 0.5; float32 ``[n]``. Needs espeak-ng (``scripts/setup.sh``)."""
    from dsp.resample import StreamResampler

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is required (apt install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(folder or tmp) / f"speech-{sentence}-{voice}-{pitch}.wav"
        text = SENTENCES[sentence % len(SENTENCES)]
        cmd = [exe, "-v", voice, "-p", str(pitch), "-w", str(path), text]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        x, sr = sf.read(path, dtype="float32")
    if x.ndim > 1:
        x = x[:, 0]
    y = StreamResampler(int(sr), rate).process(np.concatenate([x, np.zeros(int(sr) // 10, np.float32)]))
    return (0.5 * y / max(1e-9, float(np.max(np.abs(y))))).astype(np.float32)


def noise(kind: str, rate: int, n: int, seed: int = 0) -> np.ndarray:
    """Recorded-style noises at unit RMS: "white", "pink" (1/f), "clicks" (keyboard-like: short
    decaying broadband bursts at irregular intervals, 4-10 a second) or "hum" (50 Hz mains with its
    odd harmonics and a little hiss); float32 ``[n]``."""
    rng = np.random.default_rng(seed)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / rate)
        spec[1:] /= np.sqrt(f[1:])
        spec[0] = 0.0
        x = np.fft.irfft(spec, n)
    elif kind == "clicks":
        x = np.zeros(n)
        t = int(rng.uniform(0.05, 0.2) * rate)
        length = int(0.012 * rate)
        shape = np.exp(-np.arange(length) / (0.002 * rate))
        while t + length < n:
            x[t : t + length] += rng.uniform(0.5, 1.0) * shape * rng.standard_normal(length)
            t += int(rng.uniform(0.1, 0.25) * rate)
    elif kind == "hum":
        seconds = np.arange(n) / rate
        x = 0.05 * rng.standard_normal(n)
        for k in (1, 3, 5, 7):
            x += np.sin(2 * np.pi * 50 * k * seconds + k) / k
    else:
        raise ValueError(f"unknown noise {kind!r}")
    x = np.asarray(x, dtype=np.float64)
    return (x / max(1e-12, float(np.sqrt(np.mean(x**2))))).astype(np.float32)


def mix_at_snr(clean: np.ndarray, noise_: np.ndarray, snr_db: float) -> np.ndarray:
    """``clean + noise`` with the noise scaled to ``snr_db`` below the clean signal's RMS over its
    voiced part (frames within 30 dB of the loudest), as speech SNRs are quoted."""
    frames = clean[: len(clean) // 480 * 480].reshape(-1, 480).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    active = rms[rms > rms.max() * 10 ** (-30 / 20)]
    level = float(np.sqrt(np.mean(active**2)))
    scaled = noise_[: len(clean)] * (level * 10 ** (-snr_db / 20))
    return (clean + scaled).astype(np.float32)
