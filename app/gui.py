"""The desktop app: ``run_gui()`` is what ``voxshift`` without arguments starts."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QMessageBox

from app import paths
from app.controllers import AppController
from app.main_window import MainWindow
from app.settings import open_settings

log = logging.getLogger(__name__)

STYLE_SHEET = Path(__file__).resolve().parents[1] / "resources" / "dark.qss"


def style_sheet() -> str:
    """The dark theme (empty if the resource is missing: the app still works, only plainer)."""
    try:
        text = STYLE_SHEET.read_text(encoding="utf-8")
    except OSError:
        log.warning("style sheet %s not found", STYLE_SHEET)
        return ""
    return text.replace("@RESOURCES@", STYLE_SHEET.parent.as_posix())


def setup_logging() -> Path:
    """Append INFO and above to the log file in the app's data folder."""
    path = paths.log_file()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(h, logging.FileHandler) and h.baseFilename == str(path) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return path


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    """Unexpected errors in slots: log the traceback and tell the user where to find it."""
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
    app = QApplication.instance()
    if isinstance(app, QApplication):
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "Unexpected error",
            f"{kind.__name__}: {value}\n\nDetails are in {paths.log_file()}",
        )
        box.open()


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication) and existing.property("voxshift_styled"):
        return existing  # already set up: restyling would repolish every live widget again
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName(paths.ORGANIZATION)
    app.setApplicationName(paths.APPLICATION)
    app.setApplicationDisplayName("Voxshift")
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    app.setFont(font)
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    app.setProperty("voxshift_styled", True)
    return app


def build_window(store: QSettings | None = None) -> tuple[MainWindow, AppController]:
    """The main window and its controller, restored from ``store`` (the app's QSettings by default)."""
    window = MainWindow()
    controller = AppController(window, store if store is not None else open_settings())
    return window, controller


def run_gui(argv: Sequence[str] | None = None) -> int:
    """Start the desktop app and run until its window closes; returns the exit code."""
    app = create_app(argv)
    log_path = setup_logging()
    sys.excepthook = _excepthook
    log.info("Voxshift starting; log at %s", log_path)
    window, controller = build_window()
    window.show()
    code = int(app.exec())
    del controller
    return code
