"""The live voice: starting and stopping the engine, the live parameters it gets (gains, gate,
bypass, the voice's pitch and formant, push-to-talk muting) and the status line."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject

from app.controllers.dialogs import Dialogs
from app.controllers.ptt import PushToTalkController
from app.controllers.settings import SettingsModel
from app.controllers.voices import VoiceController
from app.engine_model import EngineModel
from app.main_window import MainWindow
from app.settings import VoiceSettings
from app.voice_factory import to_voice_params
from app.widgets.live_controls import GainValues
from audio.config import LiveParams

MUTE_DB = -96.0
"""Output gain while push-to-talk is released (the engine's lowest gain)."""
GATE_OFF_DB = -90.0
"""The gate slider's lowest position means "gate off"."""
GATE_OFF_LEVEL = -120.0
"""The gate level handed to the engine when the gate is off."""


class LiveController(QObject):
    """Runs the engine for the window and keeps its live parameters and the status line current."""

    def __init__(
        self,
        window: MainWindow,
        settings: SettingsModel,
        engine: EngineModel,
        voices: VoiceController,
        ptt: PushToTalkController,
        dialogs: Dialogs,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window, self.settings, self.engine = window, settings, engine
        self.voices, self.ptt, self.dialogs = voices, ptt, dialogs

    @property
    def running(self) -> bool:
        return self.engine.running

    def live_params(self) -> LiveParams:
        s, muted = self.settings.current, self.ptt.muted
        return LiveParams(
            voice=to_voice_params(self.voices.params()),
            input_gain_db=s.input_gain_db,
            output_gain_db=MUTE_DB if muted else s.output_gain_db,
            monitor_gain_db=MUTE_DB if muted else s.monitor_gain_db,
            gate_db=GATE_OFF_LEVEL if s.gate_db <= GATE_OFF_DB else s.gate_db,
            bypass=s.bypass,
        )

    def push(self) -> None:
        """Hand the engine the live parameters as they are now."""
        self.engine.set_live(self.live_params())

    # user intents -------------------------------------------------------------------------
    def on_toggle(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.engine.stop()

    def start(self) -> None:
        self.push()
        if not self.engine.start():
            self.show_running(False)

    def stop(self) -> None:
        self.engine.stop()

    def on_voice_params(self, params: VoiceSettings) -> None:
        if self.voices.current is None:
            return
        self.settings.set_voice_params(self.voices.current.id, params)
        self.push()

    def on_gains(self, g: GainValues) -> None:
        self.settings.commit(
            replace(
                self.settings.current,
                input_gain_db=g.input_gain_db,
                output_gain_db=g.output_gain_db,
                monitor_gain_db=g.monitor_gain_db,
                gate_db=g.gate_db,
            )
        )
        self.push()

    def on_bypass(self, on: bool) -> None:
        self.settings.commit(replace(self.settings.current, bypass=on))
        self.push()
        self.refresh_status()

    def on_ptt_changed(self) -> None:
        self.push()
        self.refresh_status()

    # what the window shows ----------------------------------------------------------------
    def show_running(self, running: bool) -> None:
        """The ON/OFF button and the status line follow the engine."""
        self.window.toggle.show_state(running)
        self.refresh_status()

    def refresh_status(self) -> None:
        w, s = self.window, self.settings.current
        name = self.voices.current.name if self.voices.current else "no voice"
        if not self.engine.running:
            w.set_status(f"Stopped · voice: {name}")
        elif self.ptt.muted:
            w.set_status(f"Live · {name} · muted (hold {self.ptt.key} or Talk)", "warn")
        elif s.bypass:
            w.set_status("Live · bypass (dry voice)", "warn")
        else:
            w.set_status(f"Live · {name}", "good")

    def on_engine_error(self, message: str) -> None:
        self.show_running(self.engine.running)
        self.window.set_status(message, "bad")
        self.window.show_device_note(
            f"{message}\nPick another device (or press Rescan devices after plugging it back in), "
            "then press ON."
        )
        self.dialogs.record_error(message)
