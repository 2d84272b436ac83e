"""Wizard pages 1 and 2: the dataset report (scanned off the GUI thread) and the settings form."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.background import BackgroundCall
from models.base import F0_METHODS
from training import api

WHY_STYLE = "color: palette(mid); font-size: 11px;"
WARN_STYLE = "color: #e0a030;"
ERROR_STYLE = "color: #e05050;"


def _why_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(WHY_STYLE)
    return label


def report_text(report: api.DatasetReport) -> str:
    """The report as the page shows it: totals, per-file problems, skipped files, warnings."""
    lines = [
        f"{len(report.files)} usable file(s), {report.total_seconds / 60:.1f} minutes "
        f"({report.total_seconds:.1f} s) in {report.root}"
    ]
    if report.sample_rates:
        lines.append("sample rates: " + ", ".join(f"{r} Hz" for r in report.sample_rates))
    for f in report.files:
        if f.problems:
            lines.append(f"  {Path(f.path).name}: {'; '.join(f.problems)}")
    for r in report.rejected:
        lines.append(f"  skipped {Path(r.path).name}: {r.reason}")
    return "\n".join(lines)


class DatasetPage(QWizardPage):
    """Pick the recordings folder; the scan runs on a worker thread and fills the report."""

    scanned = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("1. Your recordings")
        self.setSubTitle("Pick a folder of clean recordings of one voice (speech or singing, any format).")
        self.report: api.DatasetReport | None = None
        self._folder = ""
        self._call: BackgroundCall | None = None
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder with your recordings")
        self.folder_edit.editingFinished.connect(lambda: self.scan(self.folder_edit.text()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.status = QLabel("No folder chosen yet.")
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARN_STYLE)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.report_view, 1)
        layout.addWidget(self.warnings)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of recordings", self.folder_edit.text())
        if folder:
            self.scan(folder)

    @property
    def scanning(self) -> bool:
        return self._call is not None and self._call.running

    def scan(self, folder: str) -> None:
        """Start scanning ``folder`` on a worker thread (a newer request replaces an older one)."""
        folder = folder.strip()
        if not folder or folder == self._folder:
            return  # editingFinished fires again on every focus change: scan each folder once
        self._folder = folder
        self.folder_edit.setText(folder)
        self.report = None
        self.completeChanged.emit()
        if not Path(folder).is_dir():
            self.status.setText(f"{folder} is not a folder.")
            self._folder = ""
            self.status.setStyleSheet(ERROR_STYLE)
            return
        self.status.setStyleSheet("")
        self.status.setText(f"Checking the recordings in {folder}…")
        self.report_view.clear()
        self.warnings.clear()
        call = BackgroundCall(lambda: api.scan_dataset(folder))
        call.succeeded.connect(self._on_report)
        call.failed.connect(self._on_failed)
        self._call = call
        call.start()

    def _on_report(self, report: api.DatasetReport) -> None:
        if self.sender() is not self._call:
            return  # an older scan of another folder
        self.report = report
        self.status.setText("Ready." if report.ok else "Nothing to train on in this folder.")
        self.status.setStyleSheet("" if report.ok else ERROR_STYLE)
        self.report_view.setPlainText(report_text(report))
        self.warnings.setText("\n".join(f"⚠ {w}" for w in report.warnings))
        self.completeChanged.emit()
        self.scanned.emit(report)

    def _on_failed(self, message: str) -> None:
        if self.sender() is self._call:
            self._folder = ""  # allow a retry of the same folder
            self.status.setText(f"Could not read the folder: {message}")
            self.status.setStyleSheet(ERROR_STYLE)

    def isComplete(self) -> bool:  # noqa: N802 - Qt override
        return self.report is not None and self.report.ok


class FileField(QWidget):
    """A path line edit with a Browse button (empty text means "none")."""

    def __init__(self, caption: str, filters: str = "Model files (*.pth *.pt);;All files (*)") -> None:
        super().__init__()
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("none")
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self._browse(caption, filters))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(button)

    def _browse(self, caption: str, filters: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, caption, self.edit.text(), filters)
        if path:
            self.edit.setText(path)

    def value(self) -> str | None:
        return self.edit.text().strip() or None

    def set_value(self, value: str | None) -> None:
        self.edit.setText(value or "")


FORM_FIELDS = (
    "name", "sr", "version", "f0_method", "epochs", "batch_size", "device", "amp",
    "pretrained_g", "pretrained_d", "content_encoder", "pitch_model", "out_dir",
)  # fmt: skip
LABELS = {
    "name": "Voice name", "sr": "Sample rate", "version": "Version", "f0_method": "Pitch method",
    "epochs": "Epochs", "batch_size": "Batch size", "device": "Device", "amp": "Mixed precision",
    "pretrained_g": "Pretrained G", "pretrained_d": "Pretrained D", "content_encoder": "Content encoder",
    "pitch_model": "Pitch model", "out_dir": "Work folder",
}  # fmt: skip
CHOICES = {
    "sr": ("40k", "48k", "32k"),
    "version": ("v2", "v1"),
    "f0_method": F0_METHODS,
    "amp": ("off", "bf16", "fp16"),
}


class SettingsPage(QWizardPage):
    """The settings form: sensible defaults and, beside each field, the one-line why."""

    def __init__(self, defaults: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("2. Settings")
        self.setSubTitle("The defaults suit 10-30 minutes of speech. Each setting says why it matters.")
        self.defaults = defaults
        self.help = api.settings_help()
        self.widgets: dict[str, QWidget] = {}
        form = QGridLayout()
        form.setColumnMinimumWidth(1, 340)
        form.setColumnStretch(2, 1)
        form.setHorizontalSpacing(14)
        for name in FORM_FIELDS:
            self.widgets[name] = self._make_widget(name)
            self._add_row(form, LABELS[name], self.widgets[name], self.help[name][1])
        self.nproc = QSpinBox()
        self.nproc.setRange(1, 64)
        self.nproc.setValue(int(defaults.get("nproc", 1)))
        self._add_row(form, "Processes", self.nproc, "One per GPU; on CPU more processes share the cores.")
        self.gpus = QLineEdit(str(defaults.get("gpus", "")))
        self.gpus.setPlaceholderText("e.g. 0,1 (empty: all / CPU)")
        self._add_row(form, "GPUs", self.gpus, "Which CUDA GPUs to train on (one process each).")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        holder = QWidget()
        holder.setLayout(form)
        scroll = QScrollArea()  # the form is taller than small screens
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.error)

    @staticmethod
    def _add_row(grid: QGridLayout, label: str, widget: QWidget, why: str) -> None:
        """One setting per row: name | control | the one-line why."""
        row = grid.rowCount()
        grid.addWidget(QLabel(label), row, 0)
        grid.addWidget(widget, row, 1)
        grid.addWidget(_why_label(why), row, 2)

    def _make_widget(self, name: str) -> QWidget:
        value = self.defaults.get(name, self.help[name][0])
        if name in CHOICES:
            combo = QComboBox()
            combo.addItems(list(CHOICES[name]))
            combo.setCurrentText(str(value))
            return combo
        if name == "device":
            combo = QComboBox()
            combo.addItems(["auto", "cpu", "cuda"])
            combo.setCurrentText(str(value))
            return combo
        if name in ("epochs", "batch_size"):
            spin = QSpinBox()
            spin.setRange(1, 100000 if name == "epochs" else 512)
            spin.setValue(int(value))
            return spin
        if name in ("pretrained_g", "pretrained_d", "content_encoder", "pitch_model"):
            field = FileField(LABELS[name])
            field.set_value(value)
            return field
        return QLineEdit("" if value is None else str(value))

    def set_value(self, name: str, value: Any) -> None:
        """Set one form field (used by the wizard for the dataset-derived name, and by tests)."""
        widget = self.widgets[name]
        if isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, FileField):
            widget.set_value(value)
        elif isinstance(widget, QLineEdit):
            widget.setText("" if value is None else str(value))

    def value(self, name: str) -> Any:
        widget = self.widgets[name]
        if isinstance(widget, QComboBox):
            return widget.currentText()
        if isinstance(widget, QSpinBox):
            return widget.value()
        if isinstance(widget, FileField):
            return widget.value()
        assert isinstance(widget, QLineEdit)
        return widget.text().strip()

    def settings(self, data_dir: str) -> api.TrainConfig:
        """The form as a TrainConfig (fields not in the form keep the wizard's defaults)."""
        known = {f.name for f in dataclasses.fields(api.TrainConfig)}
        values = {k: v for k, v in self.defaults.items() if k in known}
        values.update({name: self.value(name) for name in FORM_FIELDS})
        values["data_dir"] = data_dir
        return api.TrainConfig.from_dict(values)

    def launch(self) -> api.LaunchConfig:
        gpus = tuple(int(x) for x in self.gpus.text().replace(" ", "").split(",") if x)
        return api.LaunchConfig(nproc=self.nproc.value(), cuda_devices=gpus)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.error.setAlignment(Qt.AlignmentFlag.AlignLeft)
