"""The main window: layout only. Behaviour lives in ``app.controllers``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.hotkeys import DEFAULT_KEY, qt_key
from app.widgets.big_toggle import BigToggle
from app.widgets.conversion_list import ConversionList
from app.widgets.device_picker import DevicePicker
from app.widgets.live_controls import LiveControls
from app.widgets.meter import MeterPanel
from app.widgets.voice_cards import VoiceCardList

TOGGLE_SHORTCUTS = ("Space", "Ctrl+T")


class MainWindow(QMainWindow):
    """Widgets are public attributes; user intents that are not widget signals are emitted here."""

    files_dropped = Signal(list)
    """list[Path] of local files dropped anywhere on the window"""
    talk_held = Signal(bool)
    """True while the push-to-talk key or button is held"""
    closing = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Voxshift")
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.resize(1480, 940)
        self._make_widgets()
        self._make_actions()
        self.setCentralWidget(self._layout())

    # widgets -------------------------------------------------------------------------------
    def _make_widgets(self) -> None:
        self.toggle = BigToggle(" or ".join(TOGGLE_SHORTCUTS))
        self.bypass = QPushButton("Bypass")
        self.bypass.setObjectName("pill")
        self.bypass.setCheckable(True)
        self.bypass.setToolTip("Hear your dry voice (the voice is skipped, latency stays the same)")
        self.push_to_talk = QCheckBox("Push to talk")
        self.talk = QPushButton()
        self.talk.setObjectName("pill")
        self.talk.setEnabled(False)
        self.set_ptt_key(DEFAULT_KEY)
        self.training = QPushButton()
        self.training.setObjectName("trainingIndicator")
        self.training.setToolTip("A voice is training in the background: click to show the training window")
        self.training.hide()
        self.status = QLabel("Stopped")
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.input_picker = DevicePicker()
        self.output_picker = DevicePicker()
        self.monitor_enabled = QCheckBox("Monitor")
        self.monitor_enabled.setToolTip("Also play the converted voice on a second output (e.g. headphones)")
        self.monitor_picker = DevicePicker()
        self.monitor_picker.setEnabled(False)
        self.rate_label = QLabel()
        self.rate_label.setObjectName("hint")
        self.rate_label.setWordWrap(True)
        self.device_note = QLabel()
        self.device_note.setObjectName("warning")
        self.device_note.setWordWrap(True)
        self.device_note.hide()
        self.refresh_devices = QPushButton("Rescan devices")
        self.refresh_devices.setObjectName("secondary")
        self.compute_picker = QComboBox()
        self.compute_note = QLabel()
        self.compute_note.setObjectName("warning")
        self.compute_note.setWordWrap(True)
        self.compute_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compute_note.hide()
        self.voices = VoiceCardList()
        self.controls = LiveControls()
        self.meter = MeterPanel()
        self.conversions = ConversionList()
        self.talk.pressed.connect(lambda: self.talk_held.emit(True))
        self.talk.released.connect(lambda: self.talk_held.emit(False))
        self.push_to_talk.toggled.connect(self.talk.setEnabled)
        self.monitor_enabled.toggled.connect(self.monitor_picker.setEnabled)

    def _make_actions(self) -> None:
        self.toggle_action = QAction("Start / stop", self)
        self.toggle_action.setShortcuts([QKeySequence(s) for s in TOGGLE_SHORTCUTS])
        self.toggle_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.toggle_action.triggered.connect(self.toggle.click)
        self.addAction(self.toggle_action)
        self.import_action = QAction("Import voice…", self)
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self.convert_action = QAction("Convert files…", self)
        self.convert_action.setShortcut(QKeySequence("Ctrl+O"))
        self.train_action = QAction("Train a new voice…", self)
        self.train_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.data_folder_action = QAction("Open data folder", self)
        self.log_action = QAction("Open log file", self)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.about_action = QAction("About Voxshift", self)
        self.ptt_key_action = QAction("Push-to-talk key…", self)
        self.measure_action = QAction("Measure latency…", self)
        self.measure_action.setToolTip(
            "Play a short noise burst through an output->input loopback and measure the round trip"
        )
        file_menu = self.menuBar().addMenu("&File")
        file_actions = (
            self.import_action,
            self.convert_action,
            self.train_action,
            None,
            self.data_folder_action,
            None,
        )
        for action in file_actions:
            if action is None:
                file_menu.addSeparator()
            else:
                file_menu.addAction(action)
        file_menu.addAction(self.quit_action)
        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addAction(self.measure_action)
        tools_menu.addAction(self.ptt_key_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.log_action)
        help_menu.addAction(self.about_action)

    def set_ptt_key(self, name: str) -> None:
        """Use ``name`` (an ``app.hotkeys.PTT_KEYS`` name) as the push-to-talk key in this window."""
        self.ptt_key, self._ptt_qt_key = name, qt_key(name)
        self.talk.setText(f"Talk ({name})")
        self.push_to_talk.setToolTip(f"Silent unless {name} or the Talk button is held")

    # layout --------------------------------------------------------------------------------
    def show_training(self, text: str | None) -> None:
        """The header's training indicator: ``text`` (e.g. "Training: 42%"), or hidden for None."""
        if text is None:
            self.training.hide()
            return
        self.training.setText(text)
        self.training.show()

    def _layout(self) -> QWidget:
        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(18, 14, 18, 14)
        outer.setSpacing(12)
        outer.addWidget(self._header())
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setChildrenCollapsible(False)
        body.addWidget(self._left_column())
        body.addWidget(_group("Voices", self.voices))
        body.addWidget(_scroll(self.controls))
        body.setSizes([380, 560, 440])
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.setChildrenCollapsible(False)
        vertical.addWidget(body)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("bottomTabs")
        self.tabs.addTab(_padded(self.meter), "Performance")
        self.tabs.addTab(_padded(self.conversions), "Convert files")
        vertical.addWidget(self.tabs)
        vertical.setSizes([560, 320])
        outer.addWidget(vertical, 1)
        return root

    def _header(self) -> QWidget:
        header = QFrame()
        header.setObjectName("header")
        row = QHBoxLayout(header)
        row.setContentsMargins(16, 10, 16, 10)
        row.setSpacing(16)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        title = QLabel("Voxshift")
        title.setObjectName("appTitle")
        subtitle = QLabel("realtime voice changer")
        subtitle.setObjectName("appSubtitle")
        titles.addWidget(title)
        titles.addWidget(subtitle)
        row.addLayout(titles)
        row.addSpacing(12)
        row.addWidget(self.toggle)
        side = QVBoxLayout()
        side.setSpacing(6)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        for w in (self.bypass, self.push_to_talk, self.talk):
            buttons.addWidget(w)
        buttons.addStretch(1)
        buttons.addWidget(self.training)
        side.addLayout(buttons)
        side.addWidget(self.status)
        row.addLayout(side, 1)
        hint = QLabel(f"{' / '.join(TOGGLE_SHORTCUTS)}: on/off\nDrop audio or voice files anywhere")
        hint.setObjectName("hint")
        hint.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(hint)
        return header

    def _left_column(self) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        audio = QGroupBox("Audio devices")
        grid = QGridLayout(audio)
        grid.setContentsMargins(12, 16, 12, 12)
        grid.setVerticalSpacing(8)
        grid.addWidget(QLabel("Input"), 0, 0)
        grid.addWidget(self.input_picker, 0, 1)
        grid.addWidget(QLabel("Output"), 1, 0)
        grid.addWidget(self.output_picker, 1, 1)
        grid.addWidget(self.monitor_enabled, 2, 0)
        grid.addWidget(self.monitor_picker, 2, 1)
        grid.addWidget(self.rate_label, 3, 0, 1, 2)
        grid.addWidget(self.device_note, 4, 0, 1, 2)
        grid.addWidget(self.refresh_devices, 5, 1, Qt.AlignmentFlag.AlignRight)
        grid.setColumnStretch(1, 1)
        compute = QGroupBox("Compute device")
        box = QVBoxLayout(compute)
        box.setContentsMargins(12, 16, 12, 12)
        box.addWidget(self.compute_picker)
        box.addWidget(self.compute_note)
        layout.addWidget(audio)
        layout.addWidget(compute)
        layout.addStretch(1)
        return column

    # user intents --------------------------------------------------------------------------
    def show_device_note(self, text: str) -> None:
        self.device_note.setText(text)
        self.device_note.setVisible(bool(text))

    def show_compute_note(self, text: str | None) -> None:
        self.compute_note.setText(text or "")
        self.compute_note.setVisible(bool(text))

    def set_status(self, text: str, tone: str = "") -> None:
        self.status.setText(text)
        self.status.setProperty("tone", tone)
        self.status.style().unpolish(self.status)
        self.status.style().polish(self.status)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.files_dropped.emit(files)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == self._ptt_qt_key and self.push_to_talk.isChecked():
            if not event.isAutoRepeat():
                self.talk_held.emit(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if event.key() == self._ptt_qt_key and self.push_to_talk.isChecked():
            if not event.isAutoRepeat():
                self.talk_held.emit(False)
            return
        super().keyReleaseEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.closing.emit()
        super().closeEvent(event)


def _group(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(12, 16, 12, 12)
    layout.addWidget(widget)
    return box


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setObjectName("controlsScroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    area.setMinimumWidth(380)
    return area


def _padded(widget: QWidget) -> QWidget:
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(12, 12, 12, 12)
    layout.addWidget(widget)
    return holder
