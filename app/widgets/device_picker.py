"""A combo box of audio devices grouped by host API, each with its default sample rate."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

KEY_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class DeviceKey:
    """How settings remember a device: its name and host API (PortAudio indexes change when
    devices come and go). ``str(key)`` is the stored text, ``DeviceKey.parse`` reads it back."""

    name: str
    hostapi: str

    def __str__(self) -> str:
        return f"{self.name}|{self.hostapi}"

    @classmethod
    def parse(cls, text: str) -> DeviceKey:
        name, sep, hostapi = text.rpartition("|")
        return cls(name, hostapi) if sep else cls(text, "")


@dataclass(frozen=True)
class DeviceChoice:
    """One pickable device. ``key`` (``str(DeviceKey)``) is what settings remember."""

    key: str
    name: str
    group: str
    """Host API name (ALSA, JACK, WASAPI, Core Audio, ...)."""
    index: int
    samplerate: float
    is_default: bool = False

    @property
    def label(self) -> str:
        star = "  (default)" if self.is_default else ""
        return f"{self.name} · {self.samplerate / 1000:g} kHz{star}"


class DevicePicker(QComboBox):
    """Emits ``device_chosen(key)`` when the user picks another device."""

    device_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._model = QStandardItemModel(self)
        self.setModel(self._model)
        self._choices: dict[str, DeviceChoice] = {}
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.activated.connect(self._on_activated)

    def set_choices(self, choices: list[DeviceChoice]) -> None:
        """Fill the list grouped by host API (defaults first within each group), keep the selection."""
        previous = self.current_key()
        self.blockSignals(True)
        self._model.clear()
        self._choices = {c.key: c for c in choices}
        header_font = QFont()
        header_font.setBold(True)
        for group in dict.fromkeys(c.group for c in choices):
            header = QStandardItem(group)
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            header.setFont(header_font)
            self._model.appendRow(header)
            members = sorted((c for c in choices if c.group == group), key=lambda c: not c.is_default)
            for choice in members:
                item = QStandardItem("   " + choice.label)
                item.setData(choice.key, KEY_ROLE)
                item.setToolTip(f"{choice.name}\n{choice.group}, {choice.samplerate:g} Hz")
                self._model.appendRow(item)
        self.blockSignals(False)
        if not (previous and self.select_key(previous)):
            self.select_default()

    def choices(self) -> list[DeviceChoice]:
        return list(self._choices.values())

    def select_key(self, key: str | None) -> bool:
        """Select a device by key; False (selection unchanged) when it is not in the list."""
        if key is None or key not in self._choices:
            return False
        for row in range(self._model.rowCount()):
            if self._model.item(row).data(KEY_ROLE) == key:
                self.blockSignals(True)
                self.setCurrentIndex(row)
                self.blockSignals(False)
                return True
        return False

    def select_default(self) -> None:
        default = next((c for c in self._choices.values() if c.is_default), None)
        if default is None and self._choices:
            default = next(iter(self._choices.values()))
        if default is not None:
            self.select_key(default.key)

    def current_key(self) -> str | None:
        key = self.currentData(KEY_ROLE)
        return str(key) if key else None

    def current_choice(self) -> DeviceChoice | None:
        key = self.current_key()
        return self._choices.get(key) if key else None

    def _on_activated(self, _row: int) -> None:
        key = self.current_key()
        if key:
            self.device_chosen.emit(key)
