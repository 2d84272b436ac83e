"""The training wizard: recordings -> report -> settings -> live training -> voice in the library.

All training work happens in :mod:`training` (a separate process started through
:func:`training.api.prepare_job`); this module only wires pages, the process and two background
calls (dataset scan, A/B sample conversion). Closing while training asks whether to stop or to keep
training in the background; when a background run finishes, the voice is still installed.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget, QWizard

from app.background import BackgroundCall
from app.training import library
from app.training.process import TrainingProcess
from app.training.run_pages import FinishPage, RunPage
from app.training.setup_pages import DatasetPage, SettingsPage
from models.errors import VoxshiftError
from training import api

CLOSE_STOP, CLOSE_BACKGROUND, CLOSE_CANCEL = "stop", "background", "cancel"


def _default_settings() -> dict[str, Any]:
    """Defaults that depend on this machine: the shared model files, when installed."""
    from models import files

    out: dict[str, Any] = {}
    for key, spec in (("content_encoder", files.HUBERT), ("pitch_model", files.RMVPE)):
        found = files.locate(spec)
        if found.present:
            out[key] = str(found.path)
    return out


class TrainingWizard(QWizard):
    """Four pages; ``voice_ready(path)`` is emitted with the library copy of the new voice file."""

    voice_ready = Signal(str)

    def __init__(
        self,
        library_dir: library.LibraryDir,
        parent: QWidget | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a new voice")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)  # follows the app's (dark) palette
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setObjectName("trainingWizard")
        self.resize(1000, 800)
        self.library_dir = library_dir
        self.job: api.Job | None = None
        self.settings: api.TrainConfig | None = None
        self.installed: library.InstalledVoice | None = None
        self.outputs: dict[str, str] = {}
        self._sample_call: BackgroundCall | None = None
        self._sample_cancel = threading.Event()
        self.process = TrainingProcess(parent=self)
        self.dataset_page = DatasetPage()
        self.settings_page = SettingsPage({**_default_settings(), **(defaults or {})})
        self.run_page = RunPage()
        self.finish_page = FinishPage()
        for page in (self.dataset_page, self.settings_page, self.run_page, self.finish_page):
            self.addPage(page)
        self.dataset_page.scanned.connect(self._suggest_name)
        self._wire_process()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._shutdown)

    def _wire_process(self) -> None:
        p, page = self.process, self.run_page
        p.stage.connect(page.on_stage)
        p.progress.connect(page.on_progress)
        p.losses.connect(page.on_losses)
        p.eval.connect(page.on_eval)
        p.checkpoint.connect(page.on_checkpoint)
        p.error.connect(page.on_error)
        p.log_line.connect(page.log.appendPlainText)
        p.done.connect(self._on_done)
        p.finished.connect(self._on_finished)
        page.stop_requested.connect(self.stop_training)
        page.resume_requested.connect(self.start_training)
        self.finish_page.play_requested.connect(self._play)

    # navigation ---------------------------------------------------------------------------
    def validateCurrentPage(self) -> bool:  # noqa: N802 - Qt override
        if self.currentPage() is self.settings_page:
            return self._prepare()
        return super().validateCurrentPage()

    def initializePage(self, page_id: int) -> None:  # noqa: N802 - Qt override
        super().initializePage(page_id)
        page = self.page(page_id)
        if page is self.run_page and not self.process.running and not self.run_page.finished_ok:
            self.run_page.reset()
            self.start_training()
        elif page is self.finish_page:
            self._show_results()

    def _suggest_name(self, report: api.DatasetReport) -> None:
        if self.settings_page.value("name") in ("", None):
            self.settings_page.set_value("name", Path(report.root).name or "my-voice")

    def _prepare(self) -> bool:
        """Settings -> TrainConfig -> Job (writes job.json); errors stay on the settings page."""
        report = self.dataset_page.report
        if report is None:
            self.settings_page.show_error("the recordings are still being checked; try again in a moment")
            return False
        try:
            settings = self.settings_page.settings(report.root)
            job = api.prepare_job(settings, self.settings_page.launch())
        except (VoxshiftError, ValueError, TypeError, OSError) as err:
            self.settings_page.show_error(str(err))
            return False
        self.settings_page.show_error("")
        self.settings, self.job = settings, job
        return True

    # training -----------------------------------------------------------------------------
    def start_training(self) -> None:
        """Start (or resume: the same job again continues from its checkpoint)."""
        if self.job is None or self.process.running:
            return
        self.run_page.error.hide()
        self.run_page.status.setText("Starting the trainer…")
        self.process.start(self.job)
        self.run_page.set_running(True)
        self._lock_back(True)

    def stop_training(self) -> None:
        self.process.stop()
        self.run_page.status.setText("Stopping…")
        self.run_page.stop_button.setEnabled(False)

    def _on_finished(self, exit_code: int) -> None:
        self.run_page.set_running(False)
        if self.process.stopped_by_user:
            self.run_page.on_stopped()
        self._lock_back(self.run_page.finished_ok)

    def _lock_back(self, locked: bool) -> None:
        """No way back to the settings while a run is going (or after it finished).

        QWizard disables Back when the previous page is a commit page, and re-evaluates that on
        every ``completeChanged``; toggling the flag keeps its own button logic in charge.
        """
        self.settings_page.setCommitPage(locked)
        self.run_page.completeChanged.emit()

    def _on_done(self, event: api.Done) -> None:
        self.outputs = dict(event.outputs)
        self.run_page.on_done(event)
        self._install()

    def _install(self) -> None:
        voice = self.outputs.get("voice")
        if not voice:
            self.run_page.on_error(api.Error(message="the trainer reported no voice file"))
            return
        index = self.outputs.get("index")
        try:
            target = library.resolve_library(self.library_dir)
            self.installed = library.install_voice(target, Path(voice), Path(index) if index else None)
        except VoxshiftError as err:
            self.run_page.on_error(api.Error(message=str(err)))
            return
        self.voice_ready.emit(str(self.installed.voice))

    # finish -------------------------------------------------------------------------------
    def _show_results(self) -> None:
        lines = []
        if self.installed is not None:
            lines.append(f"Voice in your library: {self.installed.voice}")
            if self.installed.index is not None:
                lines.append(f"Index: {self.installed.index}")
        if self.outputs:
            lines += ["", "In the work folder:"]
            lines += [f"    {role}: {path}" for role, path in sorted(self.outputs.items())]
        self.finish_page.show_paths(lines)
        self._convert_sample()

    def _convert_sample(self) -> None:
        request = self._sample_request()
        if request is None:
            self.finish_page.show_sample_error("no trained voice or no recording to convert")
            return
        self._sample_cancel.clear()
        cancel = self._sample_cancel
        call = BackgroundCall(lambda: library.convert_sample(request, cancel))
        call.succeeded.connect(self._on_sample)
        call.failed.connect(self.finish_page.show_sample_error)
        self._sample_call = call
        call.start()

    def _sample_request(self) -> library.SampleRequest | None:
        report, settings = self.dataset_page.report, self.settings
        if self.installed is None or report is None or settings is None or not report.files:
            return None
        if settings.content_encoder is None:
            return None
        longest = max(report.files, key=lambda f: f.duration)
        return library.SampleRequest(
            voice=self.installed.voice,
            index=self.installed.index,
            content_encoder=Path(settings.content_encoder),
            pitch_model=Path(settings.pitch_model) if settings.pitch_model else None,
            f0_method=settings.f0_method,
            source=Path(longest.path),
            out_dir=settings.exp_dir / "samples",
        )

    def _on_sample(self, pair: tuple[Path, Path]) -> None:
        self.finish_page.show_samples(*pair)

    def _play(self, path: str) -> None:
        if not path:
            return
        try:
            import sounddevice as sd
            import soundfile as sf

            audio, rate = sf.read(path, dtype="float32")
            sd.stop()
            sd.play(audio, rate)
        except (OSError, RuntimeError, ValueError) as err:
            self.finish_page.show_sample_error(f"cannot play {path}: {err}")

    # closing ------------------------------------------------------------------------------
    def ask_close(self) -> str:
        """Ask what to do with a running job: stop it, keep it in the background, or cancel."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        box.setText("Training is still running. Stop it, or keep training in the background?")
        box.setInformativeText("A stopped run resumes from its last checkpoint when you start it again.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep training in background", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        return CLOSE_STOP if clicked is stop else CLOSE_BACKGROUND if clicked is keep else CLOSE_CANCEL

    def handle_close(self, choice: str) -> bool:
        """Apply a close choice while training; True when the wizard should really close.

        "background" only hides the window (QWizard resets its pages on reject, which would lose
        the run page); "stop" stops the trainer and closes; "cancel" keeps everything as it is.
        """
        if choice == CLOSE_BACKGROUND:
            self.hide()
            return False
        if choice == CLOSE_STOP:
            self.stop_training()
            return True
        return False

    def reject(self) -> None:
        if self.process.running and not self.handle_close(self.ask_close()):
            return
        self._sample_cancel.set()
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        event.ignore()  # the window manager's close goes through the same question as Cancel
        self.reject()

    def _shutdown(self) -> None:
        """The app quits: never leave an orphaned trainer or a running thread behind."""
        self._sample_cancel.set()
        if self.process.running:
            self.process.kill()
            self.process.wait(5000)
        if self._sample_call is not None:
            self._sample_call.wait(10000)
