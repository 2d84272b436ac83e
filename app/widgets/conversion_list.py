"""The file-conversion list: one row per dropped file with progress, cancel and "show in folder"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedLayout,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

COL_FILE, COL_VOICE, COL_PROGRESS, COL_STATUS, COL_ACTIONS = range(5)


class _RowWidgets:
    def __init__(self, item: QTreeWidgetItem, progress: QProgressBar, cancel: QPushButton, show: QPushButton):
        self.item, self.progress, self.cancel, self.show = item, progress, cancel, show


class ConversionList(QWidget):
    """Signals carry job ids; the owner maps them to the queue."""

    cancel_requested = Signal(int)
    show_requested = Signal(int)
    choose_folder_requested = Signal()
    add_files_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[int, _RowWidgets] = {}
        self.folder_label = QLabel()
        self.folder_label.setObjectName("hint")
        self.folder_button = QPushButton("Output folder…")
        self.folder_button.setObjectName("secondary")
        self.add_button = QPushButton("Add files…")
        self.tree = QTreeWidget()
        self.tree.setObjectName("conversionList")
        self.tree.setHeaderLabels(["File", "Voice", "Progress", "Status", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_VOICE, 130), (COL_PROGRESS, 180), (COL_STATUS, 220), (COL_ACTIONS, 210)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        self.empty_hint = QLabel("Drop audio files here to convert them with the selected voice")
        self.empty_hint.setObjectName("dropHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        bar = QHBoxLayout()
        bar.addWidget(self.add_button)
        bar.addWidget(self.folder_button)
        bar.addWidget(self.folder_label, 1)
        layout.addLayout(bar)
        self._stack = QStackedLayout()
        self._stack.addWidget(self.empty_hint)
        self._stack.addWidget(self.tree)
        layout.addLayout(self._stack, 1)
        self.folder_button.clicked.connect(self.choose_folder_requested)
        self.add_button.clicked.connect(self.add_files_requested)

    def set_output_folder(self, folder: Path) -> None:
        self.folder_label.setText(f"Saving to {folder}  (existing files are never overwritten)")

    def add_row(self, job_id: int, source: Path, voice_name: str) -> None:
        item = QTreeWidgetItem(["", voice_name, "", "Queued", ""])
        item.setText(COL_FILE, source.name)
        item.setToolTip(COL_FILE, str(source))
        item.setSizeHint(COL_ACTIONS, QSize(0, 36))
        self.tree.addTopLevelItem(item)
        progress = QProgressBar()
        progress.setRange(0, 1000)
        progress.setTextVisible(True)
        progress.setFormat("%p%")
        cancel = QPushButton("Cancel")
        cancel.setObjectName("small")
        show = QPushButton("Show in folder")
        show.setObjectName("small")
        show.setEnabled(False)
        actions = QWidget()
        row = QHBoxLayout(actions)
        row.setContentsMargins(4, 2, 4, 2)
        row.setSpacing(6)
        row.addWidget(cancel)
        row.addWidget(show)
        self.tree.setItemWidget(item, COL_PROGRESS, progress)
        self.tree.setItemWidget(item, COL_ACTIONS, actions)
        cancel.clicked.connect(lambda: self._request_cancel(job_id))
        show.clicked.connect(lambda: self.show_requested.emit(job_id))
        self.rows[job_id] = _RowWidgets(item, progress, cancel, show)
        self._stack.setCurrentWidget(self.tree)

    def set_progress(self, job_id: int, fraction: float) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            row.progress.setValue(round(fraction * 1000))
            row.item.setText(COL_STATUS, "Converting…")

    def set_started(self, job_id: int) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            row.item.setText(COL_STATUS, "Converting…")

    def set_done(self, job_id: int, output: Path) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            row.progress.setValue(1000)
            self._finish(row, f"Done → {output.name}", "done")
            row.item.setToolTip(COL_STATUS, str(output))
            row.show.setEnabled(True)

    def set_failed(self, job_id: int, message: str) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            self._finish(row, f"Failed: {message}", "failed")
            row.item.setToolTip(COL_STATUS, message)

    def set_cancelled(self, job_id: int) -> None:
        row = self.rows.get(job_id)
        if row is not None:
            self._finish(row, "Cancelled", "cancelled")

    def _request_cancel(self, job_id: int) -> None:
        row = self.rows[job_id]
        row.cancel.setEnabled(False)
        row.item.setText(COL_STATUS, "Cancelling…")
        self.cancel_requested.emit(job_id)

    def status_text(self, job_id: int) -> str:
        return self.rows[job_id].item.text(COL_STATUS)

    def _finish(self, row: _RowWidgets, text: str, state: str) -> None:
        row.item.setText(COL_STATUS, text)
        row.cancel.setEnabled(False)
        row.progress.setProperty("state", state)
        row.progress.style().unpolish(row.progress)
        row.progress.style().polish(row.progress)
