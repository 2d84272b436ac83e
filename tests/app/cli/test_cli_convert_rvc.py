"""`voxshift convert -m voice.pth`: the RVC reference pipeline through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import ROOT
from tests.rvc_files import rule_model_files


def _run(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "2", **env_extra}
    return subprocess.run(
        [sys.executable, "-m", "app", "convert", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_missing_hubert_is_a_clear_error(tmp_path):
    wav = tmp_path / "in.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    voice = tmp_path / "voice.pth"
    voice.write_bytes(b"unused")
    env = {"VOXSHIFT_MODELS_DIR": str(tmp_path / "empty"), "VOXSHIFT_HUBERT": "", "VOXSHIFT_RMVPE": ""}
    proc = _run([str(wav), "-m", str(voice)], env)
    assert proc.returncode == 2
    assert "hubert_base.pt" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("in.*.wav"))


@pytest.mark.slow
def test_convert_with_rvc_voice_and_index(tmp_path):
    files = rule_model_files()
    t = np.arange(int(0.6 * 22050)) / 22050
    wav = tmp_path / "talk.wav"
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 160 * t)).astype(np.float32), 22050)
    out = tmp_path / "out.wav"
    proc = _run(
        [
            str(wav),
            "-m",
            str(files["voice"]),
            "--index",
            str(files["index"]),
            "--pitch",
            "2",
            "--content-encoder",
            str(files["hubert"]),
            "--f0-method",
            "fcpe",
            "-o",
            str(out),
        ],
        {},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    y, sr = sf.read(out, dtype="float32")
    assert sr == 22050  # written back at the input's rate
    assert abs(len(y) - len(t)) <= 1 and np.abs(y).max() > 0.01
    assert sf.read(wav, dtype="float32")[0].shape == t.shape  # input untouched
