"""Every dialog the main window opens: non-blocking messages, file and folder choosers, questions.

Messages are also logged, and the errors shown are kept in ``errors`` (tests and the log read
them). The choosers return typed values (paths, a chosen item) or None when cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from app import paths
from app.versions import version_report

log = logging.getLogger(__name__)


class Dialogs:
    """Dialogs over ``parent`` (the main window)."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent
        self.errors: list[str] = []
        """every error message shown (or recorded with ``record_error``), oldest first"""
        self._open: list[QMessageBox] = []

    def error(self, title: str, message: str) -> None:
        """A non-blocking warning box plus a log line."""
        log.error("%s: %s", title, message)
        self.errors.append(message)
        self._show(QMessageBox.Icon.Warning, title, message, "errorDialog")

    def record_error(self, message: str) -> None:
        """An error shown elsewhere (the status line): only logged and kept."""
        log.warning("%s", message)
        self.errors.append(message)

    def info(self, title: str, text: str, object_name: str) -> None:
        """A non-blocking information box (``object_name`` lets tests and styles find it)."""
        self._show(QMessageBox.Icon.Information, title, text, object_name)

    def about(self) -> None:
        text = (
            "<h3>Voxshift</h3><p>A realtime voice changer: built-in voices, RVC and LLVC models, "
            "honest latency numbers.</p><pre>"
            + version_report()
            + f"</pre><p>Data folder: {paths.data_dir()}<br>Log: {paths.log_file()}</p>"
        )
        self._show(QMessageBox.Icon.Information, "About Voxshift", text, "aboutDialog")

    def confirm(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self.parent, title, question)
        return answer == QMessageBox.StandardButton.Yes

    def open_files(self, title: str, file_filter: str) -> list[Path]:
        files, _ = QFileDialog.getOpenFileNames(self.parent, title, "", file_filter)
        return [Path(f) for f in files]

    def choose_folder(self, title: str, start: Path) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self.parent, title, str(start))
        return Path(folder) if folder else None

    def choose_item(self, title: str, label: str, items: Sequence[str], current: str) -> str | None:
        choices = list(items)
        row = choices.index(current) if current in choices else 0
        name, ok = QInputDialog.getItem(self.parent, title, label, choices, row, False)
        return str(name) if ok else None

    @staticmethod
    def reveal(path: Path) -> None:
        """Open a file or folder with the desktop's default application."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def _show(self, icon: QMessageBox.Icon, title: str, text: str, object_name: str) -> None:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.parent)
        box.setObjectName(object_name)
        box.finished.connect(lambda _result: self._open.remove(box) if box in self._open else None)
        self._open.append(box)
        box.open()
