"""The app's settings while it runs: one ``AppSettings`` value, changed field by field and written
to the QSettings store shortly after the last change (and on shutdown)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QSettings, QTimer

from app.settings import AppSettings, VoiceSettings, load_settings, save_settings

SAVE_DELAY_MS = 400
"""Edits that follow each other faster than this (a dragged slider) are written once."""


class SettingsModel(QObject):
    """``current`` is the settings now; ``commit`` replaces them; saving is debounced."""

    def __init__(
        self, store: QSettings, geometry: Callable[[], bytes], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.current: AppSettings = load_settings(store)
        self._geometry = geometry
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save)

    def commit(self, new: AppSettings) -> None:
        """Make ``new`` (usually ``dataclasses.replace(model.current, ...)``) current; save soon."""
        self.current = new
        self._timer.start()

    def set_voice_params(self, voice_id: str, params: VoiceSettings) -> None:
        """Remember ``params`` for the voice ``voice_id`` and schedule a save."""
        self.current = self.current.with_params(voice_id, params)
        self._timer.start()

    def save(self) -> None:
        """Write everything now, with the window's geometry."""
        self._timer.stop()
        self.current = replace(self.current, geometry=self._geometry())
        save_settings(self.store, self.current)
