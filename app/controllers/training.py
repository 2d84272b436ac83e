"""The training wizard from the main window: opening it (one at a time), the header's training
indicator that follows its trainer process, and listing a finished voice in the library."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.controllers.voices import VoiceController
from app.main_window import MainWindow

if TYPE_CHECKING:  # the wizard pulls in the training package: imported when first opened
    from app.training import TrainingWizard
    from training.events import Progress, Stage


class TrainingController(QObject):
    """Owns the wizard window (``wizard``, None before it is first opened)."""

    def __init__(self, window: MainWindow, voices: VoiceController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window, self.voices = window, voices
        self.wizard: TrainingWizard | None = None

    def open_wizard(self) -> TrainingWizard:
        """The training wizard (non-modal); a finished voice lands in the library and is listed."""
        from app.training import open_training_wizard

        # a wizard hidden with "keep training in background" is shown again, never duplicated
        wizard = self.wizard
        if wizard is None or not (wizard.isVisible() or wizard.process.running):
            wizard = open_training_wizard(self.window, lambda: self.voices.library.root)
            wizard.voice_ready.connect(lambda _path: self.voices.reload())
            self._watch(wizard)
            self.wizard = wizard
        wizard.show()
        wizard.raise_()
        wizard.activateWindow()
        return wizard

    def _watch(self, wizard: TrainingWizard) -> None:
        """Keep the header's training indicator in step with the wizard's trainer process."""
        process, window = wizard.process, self.window

        def on_stage(event: Stage) -> None:
            window.show_training(f"Training: {event.name}…")

        def on_progress(event: Progress) -> None:
            if event.total > 0:
                window.show_training(f"Training: {event.stage} {100.0 * event.done / event.total:.0f}%")

        process.started.connect(lambda: window.show_training("Training: starting…"))
        process.stage.connect(on_stage)
        process.progress.connect(on_progress)
        process.finished.connect(lambda _code: window.show_training(None))
