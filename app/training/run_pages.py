"""Wizard pages 3 and 4: the live run (stage bars, loss plots, ETA, stop/resume) and the result."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.training.setup_pages import ERROR_STYLE, WARN_STYLE, WHY_STYLE
from training import api

STAGES = ("prepare", "features", "train", "export", "index")
STAGE_LABELS = {
    "prepare": "Prepare audio",
    "features": "Pitch + content",
    "train": "Train",
    "export": "Export voice",
    "index": "Build index",
}
LOSS_PENS = {"g": "#5aa9e6", "d": "#f28e2b", "mel": "#7fc97f", "kl": "#c994c7"}
MAX_POINTS = 5000


def format_eta(seconds: float | None) -> str:
    """``93.4`` -> ``"about 1 min 33 s left"``; None or NaN -> empty."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"about {seconds} s left"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"about {minutes} min {secs:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left"


class LossPlot(pg.PlotWidget):
    """Training losses per step (log scale) and the held-out mel L1 per evaluation."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLogMode(y=True)
        self.setLabel("bottom", "step")
        self.setLabel("left", "loss")
        self.addLegend(offset=(-10, 6), colCount=5, brush=(20, 24, 32, 170))
        self._data: dict[str, tuple[list[float], list[float]]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._heldout = self.plot(
            [], [], pen=None, symbol="o", symbolSize=7, symbolBrush="#ffd166", name="held-out mel"
        )
        self._heldout_pts: tuple[list[float], list[float]] = ([], [])

    def add_step(self, event: api.StepLosses) -> None:
        for key, pen in LOSS_PENS.items():
            value = event.losses.get(key)
            if value is None or not math.isfinite(value) or value <= 0:
                continue
            xs, ys = self._data.setdefault(key, ([], []))
            xs.append(event.step)
            ys.append(value)
            del xs[:-MAX_POINTS], ys[:-MAX_POINTS]
            if key not in self._curves:
                self._curves[key] = self.plot([], [], pen=pg.mkPen(pen, width=2), name=key)
            self._curves[key].setData(np.asarray(xs), np.asarray(ys))

    def add_eval(self, event: api.Eval) -> None:
        if not math.isfinite(event.heldout_mel) or event.heldout_mel <= 0:
            return
        self._heldout_pts[0].append(event.step)
        self._heldout_pts[1].append(event.heldout_mel)
        self._heldout.setData(np.asarray(self._heldout_pts[0]), np.asarray(self._heldout_pts[1]))

    def points(self, key: str) -> int:
        return len(self._data.get(key, ([], []))[0])

    def clear_all(self) -> None:
        for curve in self._curves.values():
            curve.setData([], [])
        self._data.clear()
        self._heldout_pts = ([], [])
        self._heldout.setData([], [])


class RunPage(QWizardPage):
    """Live view of the training process; Stop and Resume drive the wizard's process."""

    stop_requested = Signal()
    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("3. Training")
        self.setSubTitle(
            "Runs in a separate process. Stop any time: Resume continues from the last checkpoint."
        )
        self.finished_ok = False
        self.bars: dict[str, QProgressBar] = {}
        self.status = QLabel("Starting…")
        self.status.setWordWrap(True)
        self.eta = QLabel()
        self.advice = QLabel("The held-out check appears after the first checkpointed epoch.")
        self.advice.setWordWrap(True)
        self.advice.setStyleSheet(WHY_STYLE)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        self.plot = LossPlot()
        self.plot.setMinimumHeight(220)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMaximumHeight(110)
        self.log.hide()
        self.log_button = QPushButton("Show log")
        self.log_button.setCheckable(True)
        self.log_button.toggled.connect(self._toggle_log)
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        layout = QVBoxLayout(self)
        layout.addLayout(self._stage_grid())
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.eta)
        top.addWidget(self.stop_button)
        top.addWidget(self.resume_button)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(self.plot, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.advice, 1)
        bottom.addWidget(self.log_button)
        layout.addLayout(bottom)
        layout.addWidget(self.log)
        self.set_running(False)

    def _stage_grid(self) -> QGridLayout:
        grid = QGridLayout()
        for col, stage in enumerate(STAGES):
            label = QLabel(STAGE_LABELS[stage])
            label.setStyleSheet(WHY_STYLE)
            bar = QProgressBar()
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setTextVisible(True)
            bar.setFormat("waiting")
            self.bars[stage] = bar
            grid.addWidget(label, 0, col)
            grid.addWidget(bar, 1, col)
        return grid

    def _toggle_log(self, shown: bool) -> None:
        self.log.setVisible(shown)
        self.log_button.setText("Hide log" if shown else "Show log")

    # state --------------------------------------------------------------------------------
    def reset(self) -> None:
        self.finished_ok = False
        self.error.hide()
        self.plot.clear_all()
        self.log.clear()
        for bar in self.bars.values():
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat("waiting")
        self.completeChanged.emit()

    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.resume_button.setEnabled(not running and not self.finished_ok)

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.finished_ok

    # events -------------------------------------------------------------------------------
    def on_stage(self, event: api.Stage) -> None:
        if event.name in self.bars:
            for earlier in STAGES[: STAGES.index(event.name)]:
                self._fill(earlier)
            bar = self.bars[event.name]
            if bar.format() == "waiting":
                bar.setRange(0, 0)  # busy until the first progress event
                bar.setFormat("running")
        first = event.message.splitlines()[0] if event.message else ""
        self.status.setText(f"{STAGE_LABELS.get(event.name, event.name)}: {first}" if first else event.name)
        self.error.hide()

    def on_progress(self, event: api.Progress) -> None:
        bar = self.bars.get(event.stage)
        if bar is None or event.total <= 0:
            return
        bar.setRange(0, event.total)
        bar.setValue(min(event.done, event.total))
        bar.setFormat(f"{event.done}/{event.total}")
        self.eta.setText(format_eta(event.eta))

    def on_losses(self, event: api.StepLosses) -> None:
        self.plot.add_step(event)
        parts = ", ".join(f"{k} {v:.3g}" for k, v in event.losses.items() if k in LOSS_PENS)
        speed = f", {event.steps_per_s:.2f} steps/s" if event.steps_per_s > 0 else ""
        self.status.setText(f"Train: epoch {event.epoch + 1}, step {event.step} ({parts}{speed})")

    def on_eval(self, event: api.Eval) -> None:
        self.plot.add_eval(event)
        self.advice.setText(
            event.advice or f"Held-out mel loss {event.heldout_mel:.3f} (best epoch {event.best_epoch})."
        )
        overtraining = "overtrain" in event.advice.lower()
        self.advice.setStyleSheet(WARN_STYLE if overtraining else WHY_STYLE)

    def on_checkpoint(self, event: api.Checkpoint) -> None:
        self.log.appendPlainText(f"checkpoint at step {event.step} (epoch {event.epoch}): {event.path}")

    def on_done(self, event: api.Done) -> None:
        for stage in STAGES:
            self._fill(stage)
        self.eta.clear()
        self.status.setText("Finished. " + (event.message or ""))
        if event.message:
            self.advice.setText(event.message)
        self.finished_ok = True
        self.completeChanged.emit()

    def on_error(self, event: api.Error) -> None:
        self.error.setText(f"Training stopped: {event.message}")
        self.error.show()
        for bar in self.bars.values():
            if bar.maximum() == 0:
                bar.setRange(0, 1)
                bar.setFormat("stopped")

    def on_stopped(self) -> None:
        self.status.setText("Stopped. Resume continues from the last checkpoint.")
        self.eta.clear()
        for bar in self.bars.values():
            if bar.maximum() == 0:
                bar.setRange(0, 1)
                bar.setFormat("stopped")

    def _fill(self, stage: str) -> None:
        bar = self.bars[stage]
        bar.setRange(0, 1)
        bar.setValue(1)
        bar.setFormat("done")


class FinishPage(QWizardPage):
    """Where the voice went, and an A/B listen of a short sample of the recordings."""

    play_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("4. Your new voice")
        self.setSubTitle("The voice is in your library. Listen to a short sample before and after.")
        self.paths = QLabel()
        self.paths.setWordWrap(True)
        self.paths.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sample_status = QLabel("Converting a short sample…")
        self.sample_status.setWordWrap(True)
        self.play_a = QPushButton("▶ A: original")
        self.play_b = QPushButton("▶ B: new voice")
        for button in (self.play_a, self.play_b):
            button.setEnabled(False)
        self.play_a.clicked.connect(lambda: self.play_requested.emit(str(self.sample_a or "")))
        self.play_b.clicked.connect(lambda: self.play_requested.emit(str(self.sample_b or "")))
        self.sample_a: Path | None = None
        self.sample_b: Path | None = None
        row = QHBoxLayout()
        row.addWidget(self.play_a)
        row.addWidget(self.play_b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.paths)
        layout.addWidget(self.sample_status)
        layout.addLayout(row)
        layout.addStretch(1)

    def show_paths(self, lines: list[str]) -> None:
        self.paths.setText("\n".join(lines))

    def show_samples(self, original: Path, converted: Path) -> None:
        self.sample_a, self.sample_b = original, converted
        self.sample_status.setText(f"A: {original}\nB: {converted}")
        self.play_a.setEnabled(True)
        self.play_b.setEnabled(True)

    def show_sample_error(self, message: str) -> None:
        self.sample_status.setText(f"The A/B sample could not be converted: {message}")
        self.sample_status.setStyleSheet(ERROR_STYLE)
