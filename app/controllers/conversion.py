"""The Convert files tab: dropped or chosen audio files are converted with the selected voice in a
queue (``app.file_convert.ConversionQueue``), into the output folder the settings remember."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject

from app import paths
from app.controllers.dialogs import Dialogs
from app.controllers.settings import SettingsModel
from app.controllers.voices import VoiceController
from app.file_convert import ConversionJob, ConversionQueue
from app.main_window import MainWindow
from app.settings import VoiceSettings
from app.voice_factory import VoiceBuild, make_voice
from app.voice_library import VoiceEntry
from models.base import Voice

CONVERT_TAB = 1
"""Index of the Convert files tab in the window's bottom tabs."""


class ConversionController(QObject):
    """Owns the conversion queue and connects it to the window's conversion list."""

    def __init__(
        self,
        window: MainWindow,
        settings: SettingsModel,
        voices: VoiceController,
        dialogs: Dialogs,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window, self.settings, self.voices, self.dialogs = window, settings, voices, dialogs
        self.queue = ConversionQueue(self)
        rows = window.conversions
        rows.cancel_requested.connect(self.queue.cancel)
        rows.show_requested.connect(self.show_in_folder)
        rows.choose_folder_requested.connect(self.choose_output_folder)
        rows.add_files_requested.connect(self.add_files_dialog)
        q = self.queue
        q.job_added.connect(self._on_job_added)
        q.job_started.connect(rows.set_started)
        q.job_progress.connect(rows.set_progress)
        q.job_finished.connect(lambda job_id, path: rows.set_done(job_id, Path(path)))
        q.job_failed.connect(rows.set_failed)
        q.job_cancelled.connect(rows.set_cancelled)

    def output_dir(self) -> Path:
        folder = self.settings.current.output_dir
        return Path(folder) if folder else paths.default_output_dir()

    def set_output_dir(self, folder: Path) -> None:
        self.settings.commit(replace(self.settings.current, output_dir=str(folder)))
        self.window.conversions.set_output_folder(folder)

    def convert(self, files: list[Path]) -> list[int]:
        """Queue audio files for conversion with the selected voice; returns the job ids."""
        entry = self.voices.current
        if entry is None:
            self.dialogs.error(
                "No voice selected", "Select a voice in the library, then drop the files again."
            )
            return []
        maker = _voice_maker(entry, self.voices.build_settings(), self.voices.params())
        try:
            ids = [self.queue.add(f, self.output_dir(), entry.name, maker).id for f in files]
        except OSError as err:
            self.dialogs.error("Cannot write the output folder", f"{self.output_dir()}: {err}")
            return []
        self.window.tabs.setCurrentIndex(CONVERT_TAB)
        return ids

    def add_files_dialog(self) -> None:
        files = self.dialogs.open_files("Convert audio files", "Audio (*.*)")
        if files:
            self.convert(files)

    def choose_output_folder(self) -> None:
        folder = self.dialogs.choose_folder("Output folder", self.output_dir())
        if folder is not None:
            self.set_output_dir(folder)

    def show_in_folder(self, job_id: int) -> None:
        job = self.queue.job(job_id)
        if job is not None:
            self.dialogs.reveal(job.target.parent)

    def shutdown(self) -> None:
        self.queue.shutdown()

    def _on_job_added(self, job: ConversionJob) -> None:
        self.window.conversions.add_row(job.id, job.source, job.voice_name)


def _voice_maker(entry: VoiceEntry, build: VoiceBuild, params: VoiceSettings) -> Callable[[], Voice]:
    """A fresh voice per job, built on the conversion thread."""
    return lambda: make_voice(entry, build, params)
