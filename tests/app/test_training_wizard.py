"""The training wizard with real scans and real tiny training jobs (pytest-qt, offscreen)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
import torch
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWizard

from app.training import TrainingProcess, TrainingWizard, open_training_wizard
from tests.conftest import REFERENCE
from tests.training.conftest import SENTENCES, speak
from training import api

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two espeak-ng sentences at different rates plus a text file that must be rejected."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is required (apt install espeak-ng)")
    root = tmp_path_factory.mktemp("recordings")
    speak(SENTENCES[0], root / "a.wav", rate=22050)
    speak(SENTENCES[1], root / "b.wav", rate=16000)
    (root / "notes.txt").write_text("these are my notes, not audio\n")
    return root


@pytest.fixture(scope="module")
def hubert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A narrow HuBERT-base-format content encoder (9 layers, final_proj to 256: RVC v1)."""
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
    return write_hubert_checkpoint(tmp_path_factory.mktemp("hubert") / "hubert_tiny.pt", manifest, state)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def tiny_defaults(hubert: Path, out: Path, **extra: Any) -> dict[str, Any]:
    """The smallest real job: tiny preset, v1, DSP pitch, one CPU process."""
    return {
        "name": "tiny", "out_dir": str(out), "preset": "tiny", "version": "v1", "f0_method": "dsp",
        "content_encoder": str(hubert), "epochs": 1, "batch_size": 1, "save_every": 1,
        "device": "cpu", "max_steps": 2, "log_every": 1, "nproc": 1, **extra,
    }  # fmt: skip


def scan(qtbot: Any, wizard: TrainingWizard, folder: Path) -> None:
    wizard.dataset_page.scan(str(folder))
    qtbot.waitUntil(lambda: wizard.dataset_page.report is not None, timeout=30000)


def start_run(qtbot: Any, wizard: TrainingWizard, folder: Path) -> None:
    """Dataset page -> settings page -> run page (which starts the trainer)."""
    wizard.show()
    scan(qtbot, wizard, folder)
    wizard.next()
    assert wizard.currentPage() is wizard.settings_page
    wizard.next()
    assert wizard.currentPage() is wizard.run_page, wizard.settings_page.error.text()
    assert wizard.process.running


class Recorder:
    """Collects every typed event a TrainingProcess emits."""

    def __init__(self, process: TrainingProcess) -> None:
        self.events: list[api.Event] = []
        for sig in (process.stage, process.progress, process.losses, process.eval, process.checkpoint):
            sig.connect(self.events.append)
        process.done.connect(self.events.append)
        process.error.connect(self.events.append)
        self.exit_codes: list[int] = []
        process.finished.connect(self.exit_codes.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def test_dataset_page_shows_real_report(qtbot: Any, recordings: Path, tmp_path: Path) -> None:
    wizard = TrainingWizard(tmp_path / "library")
    qtbot.addWidget(wizard)
    page = wizard.dataset_page
    assert not page.isComplete()
    scan(qtbot, wizard, recordings)
    report = page.report
    assert report is not None and len(report.files) == 2
    text = page.report_view.toPlainText()
    assert "2 usable file(s)" in text and "16000 Hz" in text and "22050 Hz" in text
    assert "skipped notes.txt" in text
    warnings = page.warnings.text()
    assert "10 minutes" in warnings and "mixed sample rates" in warnings
    assert page.isComplete()
    page.folder_edit.editingFinished.emit()  # focus moves on: the report stays, no rescan
    assert page.report is report  # a rescan would have cleared it at once
    # the voice name is suggested from the folder
    assert wizard.settings_page.value("name") == recordings.name


def test_dataset_page_rejects_folder_without_audio(qtbot: Any, tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "readme.md").write_text("no audio here")
    wizard = TrainingWizard(tmp_path / "library")
    qtbot.addWidget(wizard)
    scan(qtbot, wizard, folder)
    assert not wizard.dataset_page.isComplete()
    assert "no usable audio" in wizard.dataset_page.warnings.text()
    assert "skipped readme.md" in wizard.dataset_page.report_view.toPlainText()


def test_settings_page_shows_defaults_and_why(qtbot: Any, tmp_path: Path) -> None:
    wizard = TrainingWizard(tmp_path / "library")
    qtbot.addWidget(wizard)
    page = wizard.settings_page
    help_ = api.settings_help()
    assert page.value("epochs") == help_["epochs"][0]
    assert page.value("sr") == help_["sr"][0]
    texts = [w.text() for w in page.findChildren(type(page.error))]
    for field in ("epochs", "batch_size", "f0_method", "pretrained_g", "amp"):
        assert help_[field][1] in texts


def test_process_reports_a_crashed_trainer(qtbot: Any, tmp_path: Path) -> None:
    """A trainer that prints one event then dies: error + finished, with stderr in the log file."""
    code = "import sys; print('{\"event\": \"stage\", \"name\": \"prepare\"}', flush=True); " \
        "sys.stderr.write('RuntimeError: boom\\n'); sys.exit(3)"  # fmt: skip
    job = api.Job([sys.executable, "-c", code], dict(os.environ), tmp_path / "job.json", tmp_path)
    process = TrainingProcess(log_path=tmp_path / "trainer.log")
    rec = Recorder(process)
    with qtbot.waitSignal(process.finished, timeout=30000):
        process.start(job)
    assert [type(e) for e in rec.events] == [api.Stage, api.Error]
    assert "exit code 3" in rec.of(api.Error)[0].message and "boom" in rec.of(api.Error)[0].message
    assert rec.exit_codes == [3]
    assert "RuntimeError: boom" in (tmp_path / "trainer.log").read_text()
    assert not process.running


def test_process_reports_a_missing_program(qtbot: Any, tmp_path: Path) -> None:
    job = api.Job([str(tmp_path / "no-such-trainer")], dict(os.environ), tmp_path / "job.json", tmp_path)
    process = TrainingProcess()
    rec = Recorder(process)
    with qtbot.waitSignal(process.finished, timeout=10000):
        process.start(job)
    assert "could not start" in rec.of(api.Error)[0].message
    assert rec.exit_codes == [-1]


@pytest.mark.slow
def test_wizard_trains_a_tiny_voice_into_the_library(
    qtbot: Any, recordings: Path, hubert: Path, tmp_path: Path
) -> None:
    library_dir = tmp_path / "library"
    wizard = open_training_wizard(None, lambda: library_dir, tiny_defaults(hubert, tmp_path / "runs"))
    qtbot.addWidget(wizard)
    rec = Recorder(wizard.process)
    with qtbot.waitSignal(wizard.voice_ready, timeout=240000) as ready:
        start_run(qtbot, wizard, recordings)
        # closing while training asks; "keep training in background" hides the window only
        QTimer.singleShot(200, lambda: answer_close_dialog("Keep training in background"))
        wizard.reject()
        assert wizard.isHidden() and wizard.process.running
    qtbot.waitUntil(lambda: not wizard.process.running, timeout=30000)
    stages = [e.name for e in rec.of(api.Stage)]
    assert {"prepare", "features", "train", "export"} <= set(stages)
    assert rec.of(api.Progress) and [e.step for e in rec.of(api.StepLosses)] == [1, 2]
    assert rec.of(api.Done) and not rec.of(api.Error) and rec.exit_codes == [0]
    page = wizard.run_page
    assert page.isComplete() and all(bar.value() == bar.maximum() for bar in page.bars.values())
    assert page.plot.points("mel") == 2
    voice = Path(ready.args[0])
    assert voice.is_file() and voice.parent.parent == library_dir and voice.name == "tiny.pth"
    assert wizard.installed is not None and wizard.installed.index is not None
    assert wizard.installed.index.is_file() and (voice.parent / "voice.json").is_file()
    from models.rvc import load_voice

    assert load_voice(voice).synthesizer is not None
    wizard.show()
    wizard.next()
    assert wizard.currentPage() is wizard.finish_page
    assert str(voice) in wizard.finish_page.paths.text()
    qtbot.waitUntil(lambda: wizard.finish_page.play_b.isEnabled() or "could not" in
                    wizard.finish_page.sample_status.text(), timeout=120000)  # fmt: skip
    assert wizard.finish_page.sample_b is not None, wizard.finish_page.sample_status.text()
    a, rate_a = sf.read(str(wizard.finish_page.sample_a))
    b, rate_b = sf.read(str(wizard.finish_page.sample_b))
    assert rate_a == rate_b and abs(len(a) - len(b)) <= rate_a // 50 and len(b) > rate_a


@pytest.mark.slow
def test_stop_mid_run_terminates_the_trainer(
    qtbot: Any, recordings: Path, hubert: Path, tmp_path: Path
) -> None:
    defaults = tiny_defaults(hubert, tmp_path / "runs", max_steps=None, epochs=10000)
    wizard = TrainingWizard(tmp_path / "library", defaults=defaults)
    qtbot.addWidget(wizard)
    wizard.show()
    with qtbot.waitSignal(wizard.process.stage, timeout=120000):
        start_run(qtbot, wizard, recordings)
    pid = int(wizard.process._proc.processId())  # type: ignore[union-attr]
    assert wizard.run_page.stop_button.isEnabled()
    back = wizard.button(QWizard.WizardButton.BackButton)
    assert not back.isEnabled()  # no way back to the settings while the trainer runs
    with qtbot.waitSignal(wizard.process.finished, timeout=30000):
        qtbot.mouseClick(wizard.run_page.stop_button, qtbot_left())
        # the GUI keeps processing events while the trainer stops
        assert wizard.run_page.status.text() == "Stopping…"
    assert not wizard.process.running and wizard.process.stopped_by_user
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # torchrun and its workers are all gone
    assert wizard.run_page.resume_button.isEnabled() and not wizard.run_page.stop_button.isEnabled()
    assert wizard.run_page.error.isHidden() and "Resume" in wizard.run_page.status.text()
    assert back.isEnabled()
    # Resume starts the same job again (the trainer continues from what it finished)
    with qtbot.waitSignal(wizard.process.stage, timeout=120000):
        qtbot.mouseClick(wizard.run_page.resume_button, qtbot_left())
        assert wizard.process.running and not wizard.run_page.resume_button.isEnabled()
    with qtbot.waitSignal(wizard.process.finished, timeout=30000):
        wizard.stop_training()
    assert not wizard.process.running
    assert not wizard.handle_close("cancel") and wizard.isVisible()
    assert not wizard.handle_close("background") and wizard.isHidden()


@pytest.mark.slow
def test_broken_pretrained_file_shows_the_error(
    qtbot: Any, recordings: Path, hubert: Path, tmp_path: Path
) -> None:
    broken_g, broken_d = tmp_path / "f0G40k.pth", tmp_path / "f0D40k.pth"
    broken_g.write_bytes(b"this is not a checkpoint")
    broken_d.write_bytes(os.urandom(256))
    defaults = tiny_defaults(
        hubert, tmp_path / "runs", pretrained_g=str(broken_g), pretrained_d=str(broken_d)
    )
    wizard = TrainingWizard(tmp_path / "library", defaults=defaults)
    qtbot.addWidget(wizard)
    rec = Recorder(wizard.process)
    with qtbot.waitSignal(wizard.process.finished, timeout=120000):
        start_run(qtbot, wizard, recordings)
    assert rec.of(api.Error) and not rec.of(api.Done)
    assert rec.exit_codes[0] != 0
    assert not wizard.run_page.error.isHidden()
    assert "f0G40k.pth" in wizard.run_page.error.text() or "f0D40k.pth" in wizard.run_page.error.text()
    assert not wizard.run_page.isComplete() and wizard.run_page.resume_button.isEnabled()
    assert not list((tmp_path / "library").glob("*"))


def dispose(wizard: TrainingWizard) -> None:
    """Delete a wizard parented to a test's main window now.

    The window outlives its test (closed, not deleted), and the next test's ``create_app`` restyles
    every live widget: a stale hidden wizard there crashed Qt (segfault in setStyleSheet).
    """
    wizard.close()
    wizard.setParent(None)
    wizard.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def answer_close_dialog(choice: str) -> None:
    """Clicks ``choice`` in the wizard's "Training is running" question."""
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox), box
    next(b for b in box.buttons() if b.text() == choice).click()


def qtbot_left() -> Any:
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_main_window_opens_the_wizard_on_its_own_library(open_window, qtbot):
    window, controller = open_window()
    assert window.train_action in window.menuBar().actions()[0].menu().actions()
    window.train_action.trigger()
    wizard = controller.training.wizard
    assert wizard is not None and wizard.isVisible()
    # the wizard installs into the window's library; a voice it announces shows up as a card
    from app.training.library import install_voice
    from models.kinds import RvcVersion
    from models.rvc.testing import tiny_config, write_voice_file

    trained = write_voice_file(
        controller.voices.library.root.parent / "fresh.pth", tiny_config(RvcVersion.V2, f0=True)
    )
    installed = install_voice(controller.voices.library.root, trained)
    wizard.voice_ready.emit(str(installed.voice))
    names = [e.name for e in controller.voices.library.user_entries()]
    assert "fresh" in names
    assert (
        any(e.id.startswith("user:") for e in window.voices.entries())
        if hasattr(window.voices, "entries")
        else True
    )
    dispose(wizard)


def test_menu_shows_the_wizard_training_in_background(open_window, qtbot, tmp_path: Path) -> None:
    window, controller = open_window()
    window.train_action.trigger()
    wizard = controller.training.wizard
    assert wizard is not None
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    wizard.process.start(api.Job(sleeper, dict(os.environ), tmp_path / "job.json", tmp_path))
    qtbot.waitUntil(lambda: wizard.process.running, timeout=10000)
    assert not wizard.handle_close("background") and wizard.isHidden()
    window.train_action.trigger()  # the same wizard comes back, with its run
    assert controller.training.wizard is wizard and wizard.isVisible()
    with qtbot.waitSignal(wizard.process.finished, timeout=15000):
        wizard.process.stop()
    dispose(wizard)


def test_main_window_shows_a_training_in_the_background(open_window, qtbot, tmp_path: Path) -> None:
    """The header's indicator follows the trainer's events, reopens the wizard, and goes away."""
    window, controller = open_window()
    window.train_action.trigger()
    wizard = controller.training.wizard
    assert wizard is not None and window.training.isHidden()
    events = [
        '{"event": "stage", "name": "train"}',
        '{"event": "progress", "stage": "train", "done": 3, "total": 12, "eta": null}',
    ]
    code = "import time; print(" + repr("\n".join(events)) + ", flush=True); time.sleep(60)"
    wizard.process.start(
        api.Job([sys.executable, "-c", code], dict(os.environ), tmp_path / "job.json", tmp_path)
    )
    qtbot.waitUntil(lambda: window.training.text() == "Training: train 25%", timeout=15000)
    assert not window.training.isHidden()
    assert not wizard.handle_close("background") and wizard.isHidden()
    window.training.click()  # the indicator brings the running wizard back
    assert controller.training.wizard is wizard and wizard.isVisible()
    with qtbot.waitSignal(wizard.process.finished, timeout=15000):
        wizard.process.stop()
    assert window.training.isHidden()
    dispose(wizard)
