"""A horizontal dBFS level bar with a numeric readout (painted, no style sheet needed)."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


class LevelBar(QWidget):
    """Shows ``level_db`` from FLOOR_DB to 0 dBFS: green, yellow above -12, red above -3."""

    def __init__(self, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = label
        self.level_db = FLOOR_DB
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(240, 22)

    def set_level(self, level_db: float) -> None:
        level = FLOOR_DB if not math.isfinite(level_db) else max(FLOOR_DB, min(0.0, level_db))
        if abs(level - self.level_db) > 0.05:
            self.level_db = level
            self.update()

    def text(self) -> str:
        return (
            f"{self.label}  {self.level_db:5.1f} dB" if self.level_db > FLOOR_DB else f"{self.label}  -∞ dB"
        )

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#1b1f27"))
        p.drawRoundedRect(rect, 5, 5)
        frac = (self.level_db - FLOOR_DB) / -FLOOR_DB
        if frac > 0:
            grad = QLinearGradient(rect.left(), 0, rect.right(), 0)
            grad.setColorAt(0.0, QColor("#2bb673"))
            grad.setColorAt(0.78, QColor("#2bb673"))
            grad.setColorAt(0.8, QColor("#e8c547"))
            grad.setColorAt(0.94, QColor("#e8c547"))
            grad.setColorAt(0.95, QColor("#e5534b"))
            p.setBrush(grad)
            p.drawRoundedRect(QRectF(rect.left(), rect.top(), rect.width() * frac, rect.height()), 5, 5)
        p.setPen(QColor("#e6e9ef"))
        p.drawText(
            rect.adjusted(8, 0, -8, 0),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            self.text(),
        )
        p.end()
