"""The latency/RTF meter: levels, a scrolling plot of per-hop processing time against the hop budget,
planned and measured latency, RTF, and the dropped-hop and xrun counters.

It only draws what it is given: ``update_stats(stats)`` takes an ``audio.config.EngineStats``
snapshot (polled by the engine model on the GUI thread).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.widgets.level_bar import LevelBar
from audio.config import LATENCY_PARTS

HISTORY = 600
"""Hops shown in the scrolling plot."""


class StatTile(QWidget):
    """A caption over a big number."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statTile")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        self.caption = QLabel(caption)
        self.caption.setObjectName("statCaption")
        self.value = QLabel("—")
        self.value.setObjectName("statValue")
        layout.addWidget(self.caption)
        layout.addWidget(self.value)

    def set_text(self, text: str, tone: str = "") -> None:
        self.value.setText(text)
        if self.value.property("tone") != tone:
            self.value.setProperty("tone", tone)
            self.value.style().unpolish(self.value)
            self.value.style().polish(self.value)


class MeterPanel(QWidget):
    """Levels, per-hop time plot and numbers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._history = np.full(HISTORY, np.nan, dtype=np.float64)
        self._last_hops = 0
        self._loopback_note = ""
        self._measured_source = ""
        self.tiles: dict[str, StatTile] = {}
        self.input_level = LevelBar("In")
        self.output_level = LevelBar("Out")
        self._build()

    def _build(self) -> None:
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(14)
        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self.input_level)
        left.addWidget(self.output_level)
        grid = QGridLayout()
        grid.setSpacing(8)
        names = [
            ("planned", "Planned latency"),
            ("measured", "Measured latency"),
            ("rtf", "RTF (processing / real time)"),
            ("hop", "Hop time (mean / budget)"),
            ("late", "Dropped hops"),
            ("xruns", "Xruns (in over / out under)"),
        ]
        for i, (key, caption) in enumerate(names):
            tile = StatTile(caption)
            self.tiles[key] = tile
            grid.addWidget(tile, i // 2, i % 2)
        left.addLayout(grid)
        left.addStretch(1)
        layout.addLayout(left, 2)
        layout.addWidget(self._build_plot(), 3)

    def _build_plot(self) -> QWidget:
        pg.setConfigOptions(antialias=True)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("hopPlot")
        self.plot.setBackground("#151920")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.setTitle("Processing time per hop", color="#aab2c0", size="10pt")
        item.setLabel("left", "ms", color="#aab2c0")
        item.setLabel("bottom", "hops ago", color="#aab2c0")
        item.showGrid(x=False, y=True, alpha=0.15)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setYRange(0, 20, padding=0)
        self.curve = item.plot(pen=pg.mkPen("#4aa3ff", width=1.5), fillLevel=0, brush=(74, 163, 255, 40))
        self.budget_line = pg.InfiniteLine(
            pos=0.0,
            angle=0,
            pen=pg.mkPen("#e5534b", width=1.5, style=Qt.PenStyle.DashLine),
            label="budget {value:.1f} ms",
            labelOpts={"color": "#e5534b", "position": 0.08, "anchors": [(0, 1), (0, 1)]},
        )
        item.addItem(self.budget_line)
        self._x = np.arange(-HISTORY + 1, 1, dtype=np.float64)
        item.setXRange(-HISTORY, 0, padding=0)
        return self.plot

    # updates -------------------------------------------------------------------------------
    def set_loopback_note(self, text: str) -> None:
        """A line about the last loopback measurement, shown under the measured latency's source."""
        self._loopback_note = text
        self._show_measured_source()

    def _show_measured_source(self) -> None:
        tip = MEASURED_SOURCES.get(self._measured_source, MEASURED_SOURCES[""])
        if self._loopback_note:
            tip += f"\n\n{self._loopback_note}"
        self.tiles["measured"].setToolTip(tip)

    def reset(self) -> None:
        self._history[:] = np.nan
        self._last_hops = 0
        self.curve.setData([], [])

    def update_stats(self, stats: Any) -> None:
        """Show one ``EngineStats`` snapshot."""
        self.input_level.set_level(float(stats.input_level_db))
        self.output_level.set_level(float(stats.output_level_db))
        self._push_hop_times(np.asarray(stats.hop_times, dtype=np.float64), int(stats.hops))
        budget_ms = float(stats.hop_budget) * 1e3
        self.budget_line.setPos(budget_ms)
        self._update_tiles(stats, budget_ms)
        finite = self._history[np.isfinite(self._history)]
        top = max(budget_ms * 1.5, float(finite.max()) * 1.1 if finite.size else 0.0, 1.0)
        self.plot.getPlotItem().setYRange(0, top, padding=0)

    def _push_hop_times(self, recent: np.ndarray, hops: int) -> None:
        """Append the hops processed since the last snapshot (the tail of ``recent``)."""
        new = hops - self._last_hops
        if new < 0:  # the engine restarted: counters began again
            self._history[:] = np.nan
            new = hops
        self._last_hops = hops
        take = min(new, recent.size, HISTORY)
        if take <= 0:
            return
        self._history = np.roll(self._history, -take)
        self._history[-take:] = recent[-take:] * 1e3
        mask = np.isfinite(self._history)
        self.curve.setData(self._x[mask], self._history[mask])

    def _update_tiles(self, stats: Any, budget_ms: float) -> None:
        planned = stats.planned
        self.tiles["planned"].set_text(f"{planned.total * 1e3:.1f} ms")
        self.tiles["planned"].setToolTip(_breakdown_text(planned, int(stats.period), int(stats.samplerate)))
        measured = stats.measured_latency
        if measured is None:
            # the host gives nothing to measure with: say so rather than show a wrong number
            self.tiles["measured"].set_text("planned only" if stats.running else "—")
        else:
            self.tiles["measured"].set_text(f"{measured * 1e3:.1f} ms")
        self._measured_source = str(stats.measured_source)
        self._show_measured_source()
        rtf = float(stats.rtf)
        self.tiles["rtf"].set_text(f"{rtf:.2f}", "bad" if rtf >= 1.0 else "warn" if rtf >= 0.7 else "good")
        recent = np.asarray(stats.hop_times, dtype=np.float64)
        mean_ms = float(recent.mean()) * 1e3 if recent.size else 0.0
        self.tiles["hop"].set_text(f"{mean_ms:.2f} / {budget_ms:.1f} ms")
        late = int(stats.late_hops)
        self.tiles["late"].set_text(f"{late}", "bad" if late else "good")
        xruns = int(stats.xruns)
        detail = f"{xruns}  ({int(stats.input_overflows)} / {int(stats.output_underflows)})"
        self.tiles["xruns"].set_text(detail, "bad" if xruns else "good")


MEASURED_SOURCES = {
    "jack": "JACK's latency of the connections Voxshift's ports really have, plus the engine's own "
    "lag counted in its buffers",
    "portaudio": "The audio driver's timestamps (PortAudio), plus the engine's own lag counted in its "
    "buffers",
    "": "This audio host gives nothing to measure its latency with: the planned latency is all there is. "
    "Tools > Measure latency… measures a round trip through a loopback.",
}


def _breakdown_text(planned: Any, period: int = 0, rate: int = 0) -> str:
    lines = [f"{name.replace('_', ' ')}: {getattr(planned, name) * 1e3:.1f} ms" for name in LATENCY_PARTS]
    head = "Planned latency"
    if period and rate:
        head += f" (device period {period} frames = {period / rate * 1e3:.1f} ms)"
    return head + "\n" + "\n".join(lines)
