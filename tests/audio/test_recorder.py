"""Recording: the WAV is valid after every write (so after a kill), FLAC at a clean stop, a full
disk stops the recording with a message and keeps what was written."""

from __future__ import annotations

import errno

import numpy as np
import pytest
import soundfile as sf

from audio.recorder import Recorder, WavWriter, timestamped
from audio.ringbuffer import RingBuffer
from audio.stream import DuplexIO


def test_the_wav_is_readable_after_every_write(tmp_path):
    path = tmp_path / "r.wav"
    writer = WavWriter(path, 48000)
    rng = np.random.default_rng(0)
    written = []
    for _ in range(5):
        block = rng.standard_normal(1000).astype(np.float32)
        writer.write(block)
        written.append(block)
        data, rate = sf.read(path, dtype="float32")  # as a reader finds it if we died now
        assert rate == 48000
        np.testing.assert_array_equal(data, np.concatenate(written))
    writer.close()
    info = sf.info(path)
    assert info.frames == 5000 and info.subtype == "FLOAT"  # the true sizes at the end


class _Io:
    """What the recorder needs of the stream: its rings, the flag, a callback counter."""

    def __init__(self) -> None:
        self.rec_out, self.rec_in = RingBuffer(48000), RingBuffer(48000)
        self.recording = 0
        self.callbacks = 0

    def set_recording(self, mode: int) -> None:
        self.recording = mode
        self.callbacks += 2  # as if the callback ran on


def test_flac_is_made_at_a_clean_stop_and_the_wav_is_gone(tmp_path):
    io = _Io()
    rec = Recorder(io, 48000)
    started = rec.start(tmp_path, with_input=True, fmt="flac")
    assert [p.name.endswith(k) for p, k in zip(started.paths, ("-output.wav", "-input.wav"), strict=True)]
    x = (0.1 * np.random.default_rng(1).standard_normal(24000)).astype(np.float32)
    io.rec_out.write(x)
    io.rec_in.write(-x)
    done = rec.stop()
    assert done is not None and done.error is None and done.seconds == pytest.approx(0.5)
    assert [p.suffix for p in done.paths] == [".flac", ".flac"]
    assert not list(tmp_path.glob("*.wav"))
    out, _ = sf.read(done.paths[0], dtype="float32")
    np.testing.assert_allclose(out, x, atol=2**-23)  # 24-bit FLAC
    inp, _ = sf.read(done.paths[1], dtype="float32")
    np.testing.assert_allclose(inp, -x, atol=2**-23)


def test_a_full_disk_stops_the_recording_and_keeps_what_was_written(tmp_path, monkeypatch):
    io = _Io()
    rec = Recorder(io, 48000)
    started = rec.start(tmp_path)
    io.rec_out.write(np.ones(4800, np.float32))
    assert rec._drain()
    real_write = WavWriter.write

    def full(self, frames):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path))

    monkeypatch.setattr(WavWriter, "write", full)
    io.rec_out.write(np.ones(4800, np.float32))
    assert not rec._drain()
    assert io.recording == 0  # the callback no longer copies
    monkeypatch.setattr(WavWriter, "write", real_write)
    done = rec.stop()
    assert done is not None and "No space left on device" in (done.error or "")
    data, _ = sf.read(started.paths[0], dtype="float32")
    assert len(data) == 4800  # everything written before the disk filled, in a valid file


def test_names_are_timestamped_and_never_overwrite(tmp_path):
    from datetime import datetime

    when = datetime(2026, 12, 3, 9, 45, 12)
    first = timestamped(tmp_path, when, "output")
    assert first.name == "voxshift-20261203-094512-output.wav"
    first.write_bytes(b"")
    assert timestamped(tmp_path, when, "output").name == "voxshift-20261203-094512-2-output.wav"


def test_the_python_callback_copies_what_it_played(tmp_path):
    """The recording is the output block as played: concealment and underflow silence included."""
    io = DuplexIO(RingBuffer(4096), RingBuffer(4096, keep_timeline=True))
    io.attach_recorder(4096)
    io.out.write(np.arange(1, 101, dtype=np.float32))

    class Status:
        input_overflow = output_underflow = False

    times = type(
        "Times", (), dict.fromkeys(("inputBufferAdcTime", "currentTime", "outputBufferDacTime"), 1.0)
    )
    io.set_recording(2)
    out = np.zeros((128, 2), np.float32)
    inp = np.full((128, 1), 0.5, np.float32)
    io.callback(inp, out, 128, times(), Status())
    got = np.zeros(128, np.float32)
    assert io.rec_out.read(got) == 128
    np.testing.assert_array_equal(got, out[:, 0])  # what was played, its underflow's zeros too
    got_in = np.zeros(128, np.float32)
    assert io.rec_in.read(got_in) == 128 and np.all(got_in == 0.5)
