"""``voxshift models``: listing, inspection and the download error path (local server only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.main import main
from models import files
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOXSHIFT_MODELS_DIR", str(tmp_path / "models"))
    for f in files.SHARED_FILES:
        monkeypatch.delenv(f.env, raising=False)


def test_lists_missing_files_with_their_source(tmp_path: Path) -> None:
    env = {**os.environ, "VOXSHIFT_MODELS_DIR": str(tmp_path / "models")}
    proc = subprocess.run(
        [sys.executable, "-m", "app", "models"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"models folder: {tmp_path / 'models'}" in out
    assert out.count("MISSING") == 2
    assert "hubert_base.pt" in out and "rmvpe.pt" in out
    assert "lj1995/VoiceConversionWebUI" in out and "voxshift models --download rmvpe.pt" in out


def test_lists_installed_file_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "my_rmvpe.pt"
    mine.write_bytes(b"not really rmvpe")
    monkeypatch.setenv("VOXSHIFT_RMVPE", str(mine))
    assert main(["models", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "CORRUPT" in out and str(mine) in out and "$VOXSHIFT_RMVPE" in out
    assert out.count("MISSING") == 1


def test_inspect_describes_files_and_refuses_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rmvpe = tmp_path / "pitch.pt"
    torch.save({"unet.encoder.bn.weight": torch.ones(2), "fc.1.weight": torch.ones(2)}, rmvpe)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    torch.save({"weight": Payload()}, evil)
    assert main(["models", "--inspect", str(rmvpe), str(evil)]) == 1
    out = capsys.readouterr().out
    assert "pitch.pt: an RMVPE pitch model" in out
    assert "evil.pth: error: evil.pth contains code" in out
    assert not marker.exists()


def test_download_failure_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--download", "rmvpe.pt", "--endpoint", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert "error: could not download rmvpe.pt" in err
    assert main(["models", "--download", "nothing.pt"]) == 2
    assert "unknown shared model file" in capsys.readouterr().err
