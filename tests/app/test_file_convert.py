"""Dropping a WAV on the window converts it with a built-in voice, off the GUI thread."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from tests.app.test_voice_import import drop

RATE = 48000


def _tone(f0: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def _f0(x: np.ndarray) -> float:
    """Autocorrelation pitch of a steady segment, with parabolic interpolation."""
    x = x - x.mean()
    r = np.correlate(x, x, "full")[len(x) - 1 :]
    lo, hi = RATE // 500, RATE // 60
    k = lo + int(np.argmax(r[lo:hi]))
    y0, y1, y2 = r[k - 1], r[k], r[k + 1]
    return RATE / (k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))


def test_dropped_wav_is_converted_with_the_selected_voice(open_window, qtbot, tmp_path):
    window, controller = open_window()
    controller.voices.select("builtin:shift")
    window.voices.select("builtin:shift")
    window.controls.pitch.slider.setValue(window.controls.pitch.slider.value() + 5)  # +5 semitones
    source = tmp_path / "talk.wav"
    f0 = 150.0
    sf.write(source, _tone(f0, 1.5), RATE)
    original = source.read_bytes()
    drop(window, [source])
    assert len(window.conversions.rows) == 1
    job_id = next(iter(window.conversions.rows))
    qtbot.waitUntil(lambda: window.conversions.status_text(job_id).startswith("Done"), timeout=60000)
    out = controller.conversion.queue.job(job_id).target
    assert out.parent == tmp_path / "out" and out.exists()
    assert source.read_bytes() == original  # the input is never touched
    y, rate = sf.read(out, dtype="float32")
    assert rate == RATE and len(y) == int(1.5 * RATE)
    segment = y[RATE // 2 : RATE // 2 + 8192]
    cents = 1200 * np.log2(_f0(segment) / f0)
    assert abs(cents - 500) < 30, cents
    assert window.conversions.rows[job_id].show.isEnabled()

    # the same file again never overwrites the first output
    drop(window, [source])
    second = max(window.conversions.rows)
    qtbot.waitUntil(lambda: window.conversions.status_text(second).startswith("Done"), timeout=60000)
    assert controller.conversion.queue.job(second).target != out and out.exists()


def test_a_broken_audio_file_fails_its_row_with_a_message(open_window, qtbot, tmp_path):
    window, _ = open_window()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF not really a wave file")
    drop(window, [broken])
    job_id = next(iter(window.conversions.rows))
    qtbot.waitUntil(lambda: window.conversions.status_text(job_id).startswith("Failed"), timeout=30000)
    assert not any((tmp_path / "out").glob("broken*"))
