"""Offline whole-file conversion: alignment, resampling, converters, safety, cancel, progress."""

from __future__ import annotations

import threading

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy import signal

from benchkit.signals import harmonic
from models.base import VoiceParams
from models.builtin import create_voice
from models.offline import (
    ArrayConverter,
    AudioReadError,
    ConversionCancelledError,
    ConvertOptions,
    OutputExistsError,
    convert_file,
)

FLOAT = ConvertOptions(subtype="FLOAT")


def _tone(sr: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3 * 220 * t)
    x = x.astype(np.float32)
    return x if channels == 1 else np.stack([x, 0.5 * x], axis=1)


def _no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".partial")]


def test_transparent_voice_gives_the_input_back_aligned(tmp_path):
    x = _tone(48000, 1.3)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    convert_file(tmp_path / "in.wav", tmp_path / "out.wav", create_voice("shift", 48000, 256), options=FLOAT)
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 48000 and y.shape == x.shape
    np.testing.assert_array_equal(y, x)


def test_resampled_stereo_input_keeps_rate_length_and_alignment(tmp_path):
    x = _tone(44100, 1.0, channels=2)
    sf.write(tmp_path / "in.flac", x, 44100)
    out = convert_file(tmp_path / "in.flac", tmp_path / "out.wav", create_voice("shift", 48000, 512))
    y, sr = sf.read(out, dtype="float32")
    mono = x.mean(axis=1)
    assert sr == 44100 and y.shape == mono.shape
    np.testing.assert_allclose(y[200:-200], mono[200:-200], atol=2e-3)


def test_output_does_not_depend_on_block_size(tmp_path):
    x = _tone(22050, 0.7)
    sf.write(tmp_path / "in.wav", x, 22050, subtype="FLOAT")
    voice = create_voice("deeper", 48000, 256)
    a = convert_file(tmp_path / "in.wav", tmp_path / "a.wav", voice, options=FLOAT)
    small = ConvertOptions(block_frames=300, subtype="FLOAT")
    b = convert_file(tmp_path / "in.wav", tmp_path / "b.wav", voice, options=small)
    np.testing.assert_allclose(sf.read(a)[0], sf.read(b)[0], atol=1e-6)


class _HalfLevelAt16k:
    """A whole-signal converter with a predictable result: resample to 16 kHz, halve the level."""

    def convert_array(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
        y = signal.resample_poly(x, 16000, sr)
        return 0.5 * y, 16000


def test_array_converter_is_resampled_back_to_the_input_rate(tmp_path):
    x = _tone(48000, 0.8)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    conv = _HalfLevelAt16k()
    assert isinstance(conv, ArrayConverter)
    convert_file(tmp_path / "in.wav", tmp_path / "out.wav", conv, options=FLOAT)
    y, sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert sr == 48000 and y.shape == x.shape
    np.testing.assert_allclose(y[500:-500], 0.5 * x[500:-500], atol=2e-3)


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    sf.write(tmp_path / "in.wav", _tone(16000, 0.3), 16000)
    (tmp_path / "out.wav").write_bytes(b"precious")
    voice = create_voice("robot", 16000, 160)
    with pytest.raises(OutputExistsError):
        convert_file(tmp_path / "in.wav", tmp_path / "out.wav", voice)
    assert (tmp_path / "out.wav").read_bytes() == b"precious"
    convert_file(tmp_path / "in.wav", tmp_path / "out.wav", voice, overwrite=True)
    assert sf.info(tmp_path / "out.wav").frames == int(16000 * 0.3)
    assert _no_temp_files(tmp_path)


def test_input_is_never_overwritten(tmp_path):
    sf.write(tmp_path / "in.wav", _tone(16000, 0.3), 16000)
    before = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "link.wav").symlink_to(tmp_path / "in.wav")
    for dst in ("in.wav", "link.wav"):
        with pytest.raises(OutputExistsError):
            convert_file(
                tmp_path / "in.wav", tmp_path / dst, create_voice("shift", 16000, 160), overwrite=True
            )
    assert (tmp_path / "in.wav").read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"this is not audio at all", b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_unreadable_input_raises_with_the_reason(tmp_path, content):
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(AudioReadError, match=r"bad\.wav"):
        convert_file(tmp_path / "bad.wav", tmp_path / "out.wav", create_voice("shift"))
    assert not (tmp_path / "out.wav").exists() and _no_temp_files(tmp_path)


def test_empty_audio_file_is_refused(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioReadError, match="no audio"):
        convert_file(tmp_path / "empty.wav", tmp_path / "out.wav", create_voice("shift"))


def test_cancel_leaves_no_file_and_progress_is_monotonic(tmp_path):
    sf.write(tmp_path / "in.wav", _tone(48000, 2.0), 48000)
    voice = create_voice("higher", 48000, 512)
    seen: list[float] = []
    convert_file(
        tmp_path / "in.wav",
        tmp_path / "ok.wav",
        voice,
        progress=seen.append,
        options=ConvertOptions(block_frames=4096),
    )
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == 1.0

    cancel = threading.Event()

    def progress(fraction: float) -> None:
        if fraction > 0.3:
            cancel.set()

    with pytest.raises(ConversionCancelledError):
        convert_file(
            tmp_path / "in.wav",
            tmp_path / "out.wav",
            voice,
            progress=progress,
            cancel=cancel,
            options=ConvertOptions(block_frames=4096),
        )
    assert not (tmp_path / "out.wav").exists() and _no_temp_files(tmp_path)


def test_voice_parameters_apply_offline(tmp_path):
    x = harmonic(48000, 1.0, f0=150.0, glide=0.0)
    sf.write(tmp_path / "in.wav", x, 48000, subtype="FLOAT")
    voice = create_voice("shift", 48000, 256)
    voice.set_params(VoiceParams(pitch=12.0))
    y, _ = sf.read(convert_file(tmp_path / "in.wav", tmp_path / "out.wav", voice, options=FLOAT))
    assert y.shape == x.shape
    f0 = librosa.yin(y[4800:-4800], fmin=60, fmax=1000, sr=48000, frame_length=2048)
    assert abs(1200 * np.log2(np.median(f0) / 300.0)) < 10
