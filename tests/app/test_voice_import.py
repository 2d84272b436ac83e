"""Dropping a malicious or random .pth shows an error and imports nothing (and runs nothing)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def drop(window, files: list[Path]) -> None:
    """Deliver drag-enter + drop the way Qt's drag-and-drop dispatch does after the OS drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f)) for f in files])
    enter = QDragEnterEvent(
        QPoint(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def test_malicious_and_random_pth_are_refused(open_window, tmp_path, data_dir):
    window, controller = open_window()
    cards_before = window.voices.ids()
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"weight": _Evil(marker), "config": [1]}))
    random = tmp_path / "random.pth"
    random.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for bad in (evil, random):
        errors = len(controller.dialogs.errors)
        drop(window, [bad])
        assert len(controller.dialogs.errors) == errors + 1
        assert bad.name in controller.dialogs.errors[-1]
        dialogs = [b for b in window.findChildren(QMessageBox) if b.objectName() == "errorDialog"]
        assert dialogs and dialogs[-1].isVisible()
        dialogs[-1].accept()
    assert not marker.exists()
    assert window.voices.ids() == cards_before
    assert not any((data_dir / "voices").iterdir())


def test_an_index_without_a_model_is_refused(open_window, tmp_path, data_dir):
    window, controller = open_window()
    index = tmp_path / "added.index"
    index.write_bytes(b"\0" * 64)
    drop(window, [index])
    assert "needs its .pth" in controller.dialogs.errors[-1] or "without" in controller.dialogs.errors[-1]
    assert not any((data_dir / "voices").iterdir())
