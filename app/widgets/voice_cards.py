"""The voice library as a list of cards: name, kind badge, description, and missing shared files."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.voice_library import VoiceEntry

ID_ROLE = Qt.ItemDataRole.UserRole + 1


class VoiceCard(QWidget):
    """One voice. Transparent, so the list's selection style shows through."""

    def __init__(self, entry: VoiceEntry, shared_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 9, 12, 9)
        layout.setSpacing(3)
        top = QHBoxLayout()
        top.setSpacing(8)
        name = QLabel(entry.name)
        name.setObjectName("cardTitle")
        badge = QLabel(entry.kind_label)
        badge.setObjectName("badge")
        badge.setProperty("kind", entry.badge)
        top.addWidget(name)
        top.addStretch(1)
        top.addWidget(badge)
        layout.addLayout(top)
        if entry.description:
            desc = QLabel(entry.description)
            desc.setObjectName("cardText")
            desc.setWordWrap(True)
            layout.addWidget(desc)
        self.missing_label: QLabel | None = None
        if entry.missing:
            lines = [f"missing: {m.filename} ({m.purpose}) — get it from {m.source}" for m in entry.missing]
            lines.append(f"Drop it on the window or put it in {shared_dir}")
            self.missing_label = QLabel("\n".join(lines))
            self.missing_label.setObjectName("missing")
            self.missing_label.setWordWrap(True)
            self.missing_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(self.missing_label)


class VoiceCardList(QWidget):
    """Cards plus Import/Remove buttons."""

    voice_selected = Signal(str)
    import_requested = Signal()
    remove_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("voiceList")
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setSpacing(3)
        self.import_button = QPushButton("Import voice…")
        self.import_button.setToolTip(
            "RVC .pth (+ .index) or LLVC checkpoint (+ config.json); or drop files here"
        )
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("secondary")
        self.cards: dict[str, VoiceCard] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.list.currentItemChanged.connect(self._on_current)
        self.import_button.clicked.connect(self.import_requested)
        self.remove_button.clicked.connect(self._on_remove)

    def set_entries(self, entries: list[VoiceEntry], shared_dir: str, selected: str | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self.cards.clear()
        for entry in entries:
            item = QListWidgetItem()
            item.setData(ID_ROLE, entry.id)
            card = VoiceCard(entry, shared_dir)
            item.setSizeHint(QSize(200, card.sizeHint().height()))
            self.list.addItem(item)
            self.list.setItemWidget(item, card)
            self.cards[entry.id] = card
        self.list.blockSignals(False)
        self.select(selected)

    def select(self, voice_id: str | None) -> bool:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ID_ROLE) == voice_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                self._refresh_remove()
                return True
        return False

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(ID_ROLE)) if item is not None else None

    def ids(self) -> list[str]:
        return [str(self.list.item(r).data(ID_ROLE)) for r in range(self.list.count())]

    def _on_current(self, current: QListWidgetItem | None, _prev: QListWidgetItem | None) -> None:
        self._refresh_remove()
        if current is not None:
            self.voice_selected.emit(str(current.data(ID_ROLE)))

    def _refresh_remove(self) -> None:
        voice_id = self.current_id()
        self.remove_button.setEnabled(bool(voice_id and voice_id.startswith("user:")))

    def _on_remove(self) -> None:
        voice_id = self.current_id()
        if voice_id:
            self.remove_requested.emit(voice_id)
