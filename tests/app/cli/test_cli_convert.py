"""`voxshift convert` and `voxshift voices` through the real command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchkit.signals import harmonic
from models.builtin import voice_names
from tests.conftest import ROOT


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".partial")]


def test_voices_lists_every_builtin_with_a_description():
    proc = _cli("voices")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for name in voice_names():
        line = next(ln for ln in lines if ln.split()[0] == name)
        assert len(line.split()) > 3


def test_convert_several_files_one_bad_one_missing(tmp_path):
    good = tmp_path / "talk.wav"
    other = tmp_path / "song.flac"
    sf.write(good, harmonic(44100, 0.5), 44100)
    sf.write(other, np.stack([harmonic(22050, 0.4)] * 2, axis=1), 22050)
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    before = {p: p.read_bytes() for p in (good, other, bad)}

    proc = _cli(
        "convert",
        str(good),
        str(bad),
        str(tmp_path / "missing.wav"),
        str(other),
        "--voice",
        "deeper",
        "--pitch",
        "1",
    )
    assert proc.returncode == 1
    assert "notes.wav" in proc.stderr and "not a readable audio file" in proc.stderr
    assert "missing.wav" in proc.stderr and "no such file" in proc.stderr
    for src, rate, frames in ((good, 44100, 22050), (other, 22050, 8820)):
        out = src.with_name(f"{src.stem}.deeper.wav")
        info = sf.info(out)
        assert (info.samplerate, info.frames, info.channels) == (rate, frames, 1)
    assert not (tmp_path / "notes.deeper.wav").exists()
    assert {p: p.read_bytes() for p in before} == before
    assert not _leftovers(tmp_path)


def test_convert_refuses_to_overwrite_without_flag(tmp_path):
    src = tmp_path / "a.wav"
    sf.write(src, harmonic(16000, 0.3), 16000)
    out = tmp_path / "a.robot.wav"
    out.write_bytes(b"keep me")
    proc = _cli("convert", str(src), "--voice", "robot")
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert out.read_bytes() == b"keep me"
    proc = _cli("convert", str(src), "--voice", "robot", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert sf.info(out).frames == 4800
    assert not _leftovers(tmp_path)


@pytest.mark.slow
def test_convert_output_file_and_folder(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, harmonic(48000, 0.3), 48000, subtype="FLOAT")
    proc = _cli("convert", str(src), "--voice", "shift", "-o", str(tmp_path / "named.wav"))
    assert proc.returncode == 0, proc.stderr
    y, _ = sf.read(tmp_path / "named.wav", dtype="float32")
    np.testing.assert_allclose(y, sf.read(src, dtype="float32")[0], atol=1e-4)  # PCM_16 output
    proc = _cli(
        "convert", str(src), str(tmp_path / "named.wav"), "--voice", "radio", "-o", str(tmp_path / "out")
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in.radio.wav", "named.radio.wav"]
    proc = _cli("convert", str(src), str(src), "--voice", "radio", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 1 and "folder" in proc.stderr


def test_convert_unknown_voice_and_bad_pitch(tmp_path):
    src = tmp_path / "in.wav"
    sf.write(src, harmonic(16000, 0.2), 16000)
    proc = _cli("convert", str(src), "--voice", "nope")
    assert proc.returncode == 2 and "deeper" in proc.stderr
    proc = _cli("convert", str(src), "--pitch", "99")
    assert proc.returncode == 2 and "pitch" in proc.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["in.wav"]
