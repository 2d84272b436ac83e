"""Live controls: voice parameters, gate and gains (instant), and block/crossfade/context (restart)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.settings import VoiceSettings
from audio.config import LATE_POLICIES, LatePolicy
from models.base import F0_METHODS
from models.kinds import VoiceKind

LATE_LABELS: dict[LatePolicy, str] = {"dry": "Play your real voice", "silence": "Play silence"}
F0_LABELS = {"rmvpe": "RMVPE (best)", "fcpe": "FCPE (fast)", "crepe": "CREPE", "dsp": "DSP (no model)"}


@dataclass(frozen=True)
class GainValues:
    input_gain_db: float
    output_gain_db: float
    monitor_gain_db: float
    gate_db: float


@dataclass(frozen=True)
class StreamValues:
    block_ms: float
    crossfade_ms: float
    extra_ms: float
    late_policy: LatePolicy = "dry"


class ValueSlider(QWidget):
    """A horizontal slider over a float range with a fixed step, and a live value label."""

    value_changed = Signal(float)

    def __init__(self, lo: float, hi: float, step: float, fmt: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lo, self._step, self._fmt = lo, step, fmt
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, round((hi - lo) / step))
        self.label = QLabel()
        self.label.setObjectName("sliderValue")
        self.label.setMinimumWidth(72)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._on_slider)
        self._on_slider(self.slider.value())

    def value(self) -> float:
        return round(self._lo + self.slider.value() * self._step, 6)

    def set_value(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round((value - self._lo) / self._step))
        self.slider.blockSignals(False)
        self.label.setText(self._fmt.format(self.value()))

    def _on_slider(self, _pos: int) -> None:
        self.label.setText(self._fmt.format(self.value()))
        self.value_changed.emit(self.value())


class LiveControls(QWidget):
    """Emits ``voice_params_changed``, ``gains_changed`` at once, ``stream_changed`` after edits settle."""

    voice_params_changed = Signal(object)
    """VoiceSettings"""
    gains_changed = Signal(object)
    """GainValues"""
    stream_changed = Signal(object)
    """StreamValues (needs a stream restart)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pitch = ValueSlider(-24, 24, 1, "{:+.0f} st")
        self.formant = ValueSlider(-12, 12, 0.5, "{:+.1f} st")
        self.index_rate = ValueSlider(0, 1, 0.05, "{:.0%}")
        self.protect = ValueSlider(0, 0.5, 0.01, "{:.2f}")
        self.f0_method = QComboBox()
        for method in F0_METHODS:
            self.f0_method.addItem(F0_LABELS.get(method, method), method)
        self.gate = ValueSlider(-90, 0, 1, "{:.0f} dB")
        self.input_gain = ValueSlider(-24, 24, 0.5, "{:+.1f} dB")
        self.output_gain = ValueSlider(-24, 24, 0.5, "{:+.1f} dB")
        self.monitor_gain = ValueSlider(-24, 24, 0.5, "{:+.1f} dB")
        self.block = _spin(2.5, 500, 2.5, " ms")
        self.crossfade = _spin(0, 100, 1, " ms")
        self.extra = _spin(0, 2000, 10, " ms")
        self.late_policy = QComboBox()
        for policy in LATE_POLICIES:
            self.late_policy.addItem(LATE_LABELS[policy], policy)
        self.late_policy.setToolTip(
            "When the computer cannot convert a block in time, that block is skipped (the latency\n"
            "stays the same). Your real voice fills the gap, or silence: choose silence if nobody\n"
            "may ever hear your real voice."
        )
        self.restart_note = QLabel("Changing these restarts the stream (a short gap).")
        self.restart_note.setObjectName("hint")
        self.restart_note.setWordWrap(True)
        self._stream_timer = QTimer(self)
        self._stream_timer.setSingleShot(True)
        self._stream_timer.setInterval(500)
        self._stream_timer.timeout.connect(lambda: self.stream_changed.emit(self.stream_values()))
        self._build()
        self._connect()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        voice = QGroupBox("Voice")
        form = _form(voice)
        form.addRow("Pitch", self.pitch)
        form.addRow("Formant", self.formant)
        form.addRow("Index rate", self.index_rate)
        form.addRow("Protect", self.protect)
        form.addRow("Pitch tracker", self.f0_method)
        levels = QGroupBox("Levels")
        form = _form(levels)
        form.addRow("Noise gate", self.gate)
        form.addRow("Input gain", self.input_gain)
        form.addRow("Output gain", self.output_gain)
        form.addRow("Monitor gain", self.monitor_gain)
        stream = QGroupBox("Stream  ⟳")
        form = _form(stream)
        form.addRow("Block (hop)", self.block)
        form.addRow("Crossfade", self.crossfade)
        form.addRow("Extra context", self.extra)
        form.addRow("If the voice falls behind", self.late_policy)
        form.addRow(self.restart_note)
        for box in (voice, levels, stream):
            layout.addWidget(box)
        layout.addStretch(1)

    def _connect(self) -> None:
        for w in (self.pitch, self.formant, self.index_rate, self.protect):
            w.value_changed.connect(self._emit_voice)
        self.f0_method.currentIndexChanged.connect(self._emit_voice)
        for w in (self.gate, self.input_gain, self.output_gain, self.monitor_gain):
            w.value_changed.connect(lambda _v: self.gains_changed.emit(self.gain_values()))
        for spin in (self.block, self.crossfade, self.extra):
            spin.valueChanged.connect(lambda _v: self._stream_timer.start())
        self.late_policy.currentIndexChanged.connect(lambda _i: self._stream_timer.start())

    # values --------------------------------------------------------------------------------
    def voice_settings(self) -> VoiceSettings:
        return VoiceSettings(
            pitch=self.pitch.value(),
            formant=self.formant.value(),
            index_rate=self.index_rate.value(),
            protect=self.protect.value(),
            f0_method=str(self.f0_method.currentData()),
        )

    def gain_values(self) -> GainValues:
        return GainValues(
            self.input_gain.value(), self.output_gain.value(), self.monitor_gain.value(), self.gate.value()
        )

    def stream_values(self) -> StreamValues:
        policy = LATE_POLICIES[max(0, self.late_policy.currentIndex())]  # items are in LATE_POLICIES order
        return StreamValues(self.block.value(), self.crossfade.value(), self.extra.value(), policy)

    def set_voice_settings(self, s: VoiceSettings) -> None:
        self.pitch.set_value(s.pitch)
        self.formant.set_value(s.formant)
        self.index_rate.set_value(s.index_rate)
        self.protect.set_value(s.protect)
        self.f0_method.blockSignals(True)
        self.f0_method.setCurrentIndex(max(0, self.f0_method.findData(s.f0_method)))
        self.f0_method.blockSignals(False)

    def set_gain_values(self, g: GainValues) -> None:
        self.input_gain.set_value(g.input_gain_db)
        self.output_gain.set_value(g.output_gain_db)
        self.monitor_gain.set_value(g.monitor_gain_db)
        self.gate.set_value(g.gate_db)

    def set_stream_values(self, s: StreamValues) -> None:
        for spin, value in (
            (self.block, s.block_ms),
            (self.crossfade, s.crossfade_ms),
            (self.extra, s.extra_ms),
        ):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self.late_policy.blockSignals(True)
        self.late_policy.setCurrentIndex(max(0, self.late_policy.findData(s.late_policy)))
        self.late_policy.blockSignals(False)

    def set_voice_kind(self, kind: VoiceKind) -> None:
        """Model-only controls are greyed out for voices that ignore them."""
        rvc = kind is VoiceKind.RVC
        for w in (self.index_rate, self.protect, self.f0_method):
            w.setEnabled(rvc)
        self.crossfade.setEnabled(rvc)
        self.extra.setEnabled(rvc)

    def _emit_voice(self, *_args: object) -> None:
        self.voice_params_changed.emit(self.voice_settings())


def _spin(lo: float, hi: float, step: float, suffix: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(lo, hi)
    spin.setSingleStep(step)
    spin.setDecimals(1)
    spin.setSuffix(suffix)
    spin.setKeyboardTracking(False)
    return spin


def _form(box: QGroupBox) -> QFormLayout:
    form = QFormLayout(box)
    form.setContentsMargins(12, 16, 12, 12)
    form.setHorizontalSpacing(14)
    form.setVerticalSpacing(8)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return form
