"""The large on/off button of the main window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget


class BigToggle(QPushButton):
    """A checkable button styled by the ``bigToggle`` object name; its text follows its state."""

    def __init__(self, shortcut_hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bigToggle")
        self.setCheckable(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setMinimumSize(220, 64)
        self._hint = shortcut_hint
        self.toggled.connect(self._refresh)
        self._refresh(False)

    def show_state(self, on: bool) -> None:
        """Show ``on`` without emitting ``toggled`` (the state changed elsewhere, e.g. an engine error)."""
        if self.isChecked() != on:
            self.blockSignals(True)
            self.setChecked(on)
            self.blockSignals(False)
            self._refresh(on)

    def _refresh(self, on: bool) -> None:
        self.setText("●  ON" if on else "○  OFF")
        state = "stop" if on else "start"
        self.setToolTip(f"Click or press {self._hint} to {state} the voice changer")
        # Let the style sheet restyle on the dynamic property.
        self.setProperty("on", on)
        self.style().unpolish(self)
        self.style().polish(self)
