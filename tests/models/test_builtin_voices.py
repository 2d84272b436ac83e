"""Built-in voices: registry, exact latency, streaming invariance, live parameter changes."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit.signals import harmonic
from models.base import Voice, VoiceParams
from models.builtin import create_voice, list_voices, voice_names
from models.errors import VoiceNotFoundError
from models.kinds import VoiceKind


def _harmonic(sr: int, seconds: float, f0: float = 140.0) -> np.ndarray:
    return harmonic(sr, seconds, f0)


def _stream(voice: Voice, x: np.ndarray, hop: int) -> np.ndarray:
    state = voice.init_state()
    out = []
    for i in range(0, len(x) - hop + 1, hop):
        y, state = voice.step(x[i : i + hop], state)
        assert y.dtype == np.float32 and y.shape == (hop,)
        out.append(y)
    return np.concatenate(out)


def test_list_voices_names_and_descriptions():
    infos = list_voices()
    names = [i.name for i in infos]
    assert names == voice_names()
    assert {"passthrough", "shift"} <= set(names)
    presets = [i for i in infos if i.kind is VoiceKind.BUILTIN and i.name != "shift"]
    assert 4 <= len(presets) <= 6
    assert all(i.description for i in infos)


def test_unknown_voice_lists_known_names():
    with pytest.raises(VoiceNotFoundError) as err:
        create_voice("no-such-voice")
    for name in voice_names():
        assert name in str(err.value)


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_shift_at_zero_is_input_delayed_by_latency(sr):
    voice = create_voice("shift", sample_rate=sr, hop=160)
    assert 0 < voice.latency <= 0.025 * sr
    x = _harmonic(sr, 0.6)
    y = _stream(voice, x, 160)
    lat = voice.latency
    np.testing.assert_array_equal(y[lat:], x[: len(y) - lat])
    assert np.all(y[:lat] == 0)


@pytest.mark.parametrize("name", voice_names())
def test_every_voice_streams_at_any_rate(name):
    for sr, hop in [(48000, 128), (40000, 512), (16000, 100)]:
        voice = create_voice(name, sample_rate=sr, hop=hop)
        assert voice.sample_rate == sr and voice.hop == hop
        assert voice.latency <= 0.025 * sr
        voice.warmup()
        y = _stream(voice, _harmonic(sr, 0.4), hop)
        assert np.all(np.isfinite(y))
        assert 0.01 < float(np.sqrt(np.mean(y[sr // 10 :] ** 2))) < 1.0


@pytest.mark.parametrize("name", ["shift", "deeper", "robot", "chipmunk"])
def test_streaming_is_hop_size_independent(name):
    sr = 48000
    x = _harmonic(sr, 0.8, f0=180.0)
    outputs = []
    for hop in (128, 256, 480):
        voice = create_voice(name, sample_rate=sr, hop=hop)
        voice.set_params(VoiceParams(pitch=3.0, formant=-1.0))
        outputs.append(_stream(voice, x, hop))
    n = min(len(o) for o in outputs)
    for other in outputs[1:]:
        np.testing.assert_allclose(other[:n], outputs[0][:n], atol=1e-6)


def test_live_change_is_smooth_and_returns_to_transparent():
    sr, hop = 48000, 256
    voice = create_voice("shift", sample_rate=sr, hop=hop)
    x = _harmonic(sr, 1.2)
    state = voice.init_state()
    out = []
    for k, i in enumerate(range(0, len(x) - hop + 1, hop)):
        voice.set_params(VoiceParams(pitch=5.0 if 50 <= k < 150 else 0.0))
        y, state = voice.step(x[i : i + hop], state)
        out.append(y)
    y = np.concatenate(out)
    assert np.max(np.abs(np.diff(y))) < 0.2  # no clicks at the switches
    lat = voice.latency
    tail = slice(170 * hop, len(y))
    np.testing.assert_array_equal(y[tail], x[tail.start - lat : len(y) - lat])


def test_silence_loud_and_broken_input_stay_bounded():
    voice = create_voice("giant", hop=256)
    state = voice.init_state()
    broken = np.full(256, np.nan, np.float32)
    broken[::3] = np.inf
    blocks = (np.zeros(256, np.float32), np.ones(256, np.float32), -np.ones(256, np.float32), broken)
    for block in blocks:
        for _ in range(20):
            y, state = voice.step(block, state)
            assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 4.0


def test_robot_is_monotone_and_follows_the_pitch_offset():
    import librosa

    sr = 48000
    x = harmonic(sr, 1.5, f0=150.0)  # input glides ±0.2 octave
    for pitch, target in ((0.0, 110.0), (12.0, 220.0)):
        voice = create_voice("robot", sr, 256)
        voice.set_params(VoiceParams(pitch=pitch))
        y = _stream(voice, x, 256)[sr // 4 :]
        f0 = librosa.yin(y.astype(np.float64), fmin=60, fmax=600, sr=sr, frame_length=4096)
        cents = 1200 * np.log2(f0[2:-2] / target)
        assert np.percentile(np.abs(cents), 90) < 15, (pitch, np.percentile(np.abs(cents), 90))


def test_radio_is_band_limited():
    sr = 48000
    x = np.random.default_rng(1).standard_normal(sr).astype(np.float32) * 0.1
    y = _stream(create_voice("radio", sr, 256), x, 256)
    spec = np.abs(np.fft.rfft(y[4800:])) ** 2
    freqs = np.fft.rfftfreq(len(y) - 4800, 1 / sr)
    band = spec[(freqs > 500) & (freqs < 3000)].mean()
    assert spec[freqs < 100].mean() < 0.05 * band
    assert spec[freqs > 8000].mean() < 0.05 * band
