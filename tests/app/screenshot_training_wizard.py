"""Screenshot of the training wizard's run page during a real tiny training run (run under X).

``Xvfb :57 -screen 0 1400x900x24 &`` then
``DISPLAY=:57 QT_QPA_PLATFORM=xcb OMP_NUM_THREADS=1 python -m tests.app.screenshot_training_wizard OUT.png``
(the docs/screenshots/training_wizard.png of the README). Not collected by pytest.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from PySide6.QtCore import QTimer

from app.gui import create_app
from app.training import open_training_wizard
from tests.conftest import REFERENCE
from tests.training.conftest import SENTENCES, speak
from training import api

STEPS = 120
EXTRA = (
    "Every morning I record a few minutes of my own voice for the model.",
    "The weather today is bright and clear, with a gentle breeze from the west.",
)


def tiny_hubert(path: Path) -> Path:
    from models.content import Hubert, HubertConfig
    from models.content.testing import write_hubert_checkpoint
    from models.testing import load_manifest

    torch.manual_seed(0)
    cfg = HubertConfig(embed_dim=32, ffn_dim=64, heads=2, layers=9, conv_pos=16, conv_pos_groups=16)
    state = {k: v.detach().clone() for k, v in Hubert(cfg).state_dict().items()}
    manifest = load_manifest(REFERENCE / "manifest_hubert_base.json")
    manifest["container"]["synthetic_cfg_used_for_golden"]["model"]["encoder_attention_heads"] = cfg.heads
    w = state.pop("encoder.pos_conv.weight")
    state["encoder.pos_conv.0.weight_v"] = w
    state["encoder.pos_conv.0.weight_g"] = w.norm(dim=(0, 1), keepdim=True)
    state["encoder.pos_conv.0.bias"] = state.pop("encoder.pos_conv.bias")
    return write_hubert_checkpoint(path, manifest, state)


def main(target: Path) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="wizard-shot-"))
    data = tmp / "alice"
    data.mkdir()
    for i, text in enumerate((*SENTENCES, *EXTRA)):
        speak(text, data / f"take{i:02d}.wav", voice=("en", "en-us")[i % 2])
    (data / "session_notes.docx").write_bytes(b"PK\x03\x04 not audio")
    app = create_app()
    defaults = {
        "name": "alice", "out_dir": str(tmp / "runs"), "preset": "tiny", "version": "v1",
        "f0_method": "dsp", "content_encoder": str(tiny_hubert(tmp / "hubert_tiny.pt")), "epochs": 400,
        "batch_size": 1, "save_every": 1, "device": "cpu", "log_every": 1, "heldout": 2, "nproc": 1,
    }  # fmt: skip
    wizard = open_training_wizard(None, tmp / "library", defaults)

    def grab() -> None:
        app.primaryScreen().grabWindow(wizard.winId()).save(str(target))
        wizard.process.kill()
        wizard.process.wait(5000)
        app.quit()

    def on_step(event: api.StepLosses) -> None:
        if event.step == STEPS:
            QTimer.singleShot(300, grab)

    wizard.process.losses.connect(on_step)
    wizard.dataset_page.scanned.connect(lambda _report: (wizard.next(), wizard.next()))
    QTimer.singleShot(200, lambda: wizard.dataset_page.scan(str(data)))
    QTimer.singleShot(300_000, app.quit)
    app.exec()
    return 0 if target.is_file() else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
