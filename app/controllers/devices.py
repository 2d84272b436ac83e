"""Audio devices and the compute device: the pickers, what settings remember of them, and the
engine configuration they make (with the block size and late policy from the settings)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.compute import CPU, gpu_warning, list_compute_devices
from app.controllers.settings import SettingsModel
from app.engine_model import EngineModel
from app.main_window import MainWindow
from app.widgets.device_picker import DeviceChoice, DeviceKey, DevicePicker
from audio.config import EngineConfig

if TYPE_CHECKING:
    from audio.devices import Kind  # audio.devices starts PortAudio: imported where devices are listed

log = logging.getLogger(__name__)


class DeviceController(QObject):
    """Fills the device and compute pickers, remembers the choice, hands the engine its config."""

    compute_changed = Signal(str)
    """the torch device id ("cpu", "cuda:0", ...) the user picked for the voices"""

    def __init__(
        self, window: MainWindow, settings: SettingsModel, engine: EngineModel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.settings = settings
        self.engine = engine

    # audio devices ------------------------------------------------------------------------
    def populate(self) -> None:
        """Fill the pickers from PortAudio; saved devices that are gone fall back to the default."""
        w, s = self.window, self.settings.current
        notes = []
        pickers: tuple[tuple[str, Kind, DevicePicker, str | None], ...] = (
            ("input", "input", w.input_picker, s.input_device),
            ("output", "output", w.output_picker, s.output_device),
            ("monitor", "output", w.monitor_picker, s.monitor_device),
        )
        for role, kind, picker, saved in pickers:
            picker.set_choices(_choices(kind))
            if saved and not picker.select_key(saved):
                picker.select_default()
                chosen = picker.current_choice()
                fallback = chosen.name if chosen else "none"
                gone = DeviceKey.parse(saved).name
                notes.append(f"Saved {role} device '{gone}' is not available; using '{fallback}'.")
            elif not saved:
                picker.select_default()
        if not w.input_picker.choices() or not w.output_picker.choices():
            notes.append("No audio input or output device was found: connect one and press Rescan.")
        w.show_device_note(" ".join(notes))
        self.apply()

    def rescan(self) -> None:
        """Ask PortAudio again (devices plugged in or out) and fill the pickers anew.

        PortAudio can only rescan while no stream is open: stop the engine first.
        """
        from audio import devices

        devices.refresh()
        self.populate()

    def apply(self) -> None:
        """Remember the pickers' selection and hand a new config to the engine (restarts if running)."""
        w = self.window
        self.settings.commit(
            replace(
                self.settings.current,
                input_device=w.input_picker.current_key(),
                output_device=w.output_picker.current_key(),
                monitor_device=w.monitor_picker.current_key(),
                monitor_enabled=w.monitor_enabled.isChecked(),
            )
        )
        chosen_in, chosen_out = w.input_picker.current_choice(), w.output_picker.current_choice()
        if chosen_in and chosen_out:
            w.rate_label.setText(
                f"Stream rate {chosen_in.samplerate / 1000:g} kHz (input default) · "
                f"output default {chosen_out.samplerate / 1000:g} kHz"
            )
        config = self.engine_config()
        if config is not None:
            self.engine.set_config(config)

    def engine_config(self) -> EngineConfig | None:
        """The engine configuration for the current pickers and settings; None without devices."""
        w, s = self.window, self.settings.current
        chosen_in, chosen_out = w.input_picker.current_choice(), w.output_picker.current_choice()
        if chosen_in is None or chosen_out is None:
            return None
        monitor = w.monitor_picker.current_choice() if w.monitor_enabled.isChecked() else None
        rate = int(chosen_in.samplerate)
        return EngineConfig(
            input_device=chosen_in.index,
            output_device=chosen_out.index,
            monitor_device=monitor.index if monitor else None,
            samplerate=rate,
            hop=0,  # the voice's own (built from the block setting)
            margin=round(s.margin_ms * rate / 1000),
            late_policy=s.late_policy,
        )

    # compute device -----------------------------------------------------------------------
    def fill_compute(self) -> None:
        """List CPU and the usable GPUs; select the saved one (CPU when it is gone)."""
        try:
            choices = list_compute_devices()
        except (ImportError, RuntimeError) as err:
            log.warning("compute devices unavailable: %s", err)
            choices = [CPU]
        picker, saved = self.window.compute_picker, self.settings.current.compute_device
        picker.blockSignals(True)
        picker.clear()
        for device in choices:
            picker.addItem(device.label, device.id)
        index = picker.findData(saved)
        picker.setCurrentIndex(max(0, index))
        picker.blockSignals(False)
        if index < 0 and saved != CPU.id:
            self.settings.commit(replace(self.settings.current, compute_device=CPU.id))
        self.window.show_compute_note(gpu_warning())

    def on_compute_picked(self, _index: int) -> None:
        device = str(self.window.compute_picker.currentData())
        self.settings.commit(replace(self.settings.current, compute_device=device))
        self.compute_changed.emit(device)


def _choices(kind: Kind) -> list[DeviceChoice]:
    """PortAudio's devices of one direction as picker choices (the default one marked)."""
    from audio import devices

    try:
        default_index = devices.default_device(kind).index
    except devices.DeviceError:
        default_index = -1
    return [
        DeviceChoice(
            key=str(DeviceKey(d.name, d.hostapi)),
            name=d.name,
            group=d.hostapi,
            index=d.index,
            samplerate=d.default_samplerate,
            is_default=d.index == default_index,
        )
        for d in devices.list_devices(kind)
    ]
