"""Rule-weight community files (RVC v2 40k voice, hubert_base.pt, rmvpe.pt), written once per test run."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from models.content.testing import write_rule_hubert
from models.pitch.testing import write_rule_rmvpe
from models.rvc.testing import write_voice_file
from models.testing import load_manifest

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


@functools.cache
def rule_model_files() -> dict[str, Path]:
    """Paths of the files (in a temporary folder removed at exit) plus the golden index."""
    folder = Path(tempfile.mkdtemp(prefix="voxshift-rvc-"))
    atexit.register(shutil.rmtree, folder, True)
    return {
        "voice": write_voice_file(
            folder / "v2.pth", manifest=load_manifest(REFERENCE / "manifest_rvc_v2_f0_40k.json")
        ),
        "hubert": write_rule_hubert(folder / "hubert_base.pt", REFERENCE / "manifest_hubert_base.json"),
        "rmvpe": write_rule_rmvpe(folder / "rmvpe.pt", REFERENCE / "manifest_rmvpe.json"),
        "index": REFERENCE / "pipeline_v2_40k.index",
    }
