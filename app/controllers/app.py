"""Builds the window's controllers and wires the window's signals to them (wiring only).

Each concern has its own controller in this package: settings, dialogs, devices, voices, the live
engine, push to talk, the latency probe, file conversion and training. They get what they need in
their constructor; this module connects user intents (widget signals, menu actions, drops) to them
and the engine's signals back to the window.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QSettings

from app import paths
from app.controllers.conversion import ConversionController
from app.controllers.devices import DeviceController
from app.controllers.dialogs import Dialogs
from app.controllers.latency import LatencyController
from app.controllers.live import LiveController
from app.controllers.ptt import PushToTalkController
from app.controllers.settings import SettingsModel
from app.controllers.training import TrainingController
from app.controllers.voices import VoiceController
from app.engine_model import EngineModel
from app.file_convert import is_audio_file
from app.main_window import MainWindow
from app.voice_library import VoiceLibrary
from app.widgets.live_controls import GainValues, StreamValues


class AppController(QObject):
    """The controllers of one main window (public attributes), restored from ``store``."""

    def __init__(
        self,
        window: MainWindow,
        store: QSettings,
        *,
        engine: EngineModel | None = None,
        library: VoiceLibrary | None = None,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.engine = engine or EngineModel(parent=self)
        self.settings = SettingsModel(store, lambda: bytes(window.saveGeometry().data()), self)
        self.dialogs = Dialogs(window)
        self.devices = DeviceController(window, self.settings, self.engine, self)
        self.voices = VoiceController(
            window, self.settings, self.engine, library or VoiceLibrary(), self.dialogs, self
        )
        self.ptt = PushToTalkController(window, self.settings, self.dialogs, self)
        self.live = LiveController(
            window, self.settings, self.engine, self.voices, self.ptt, self.dialogs, self
        )
        self.latency = LatencyController(window, self.engine, self.devices, self.live, self.dialogs, self)
        self.conversion = ConversionController(window, self.settings, self.voices, self.dialogs, self)
        self.training = TrainingController(window, self.voices, self)
        self._restore()
        self._connect()
        self.ptt.sync_listener()
        self.engine.begin_polling()

    def _restore(self) -> None:
        w, s = self.window, self.settings.current
        if s.geometry:
            w.restoreGeometry(s.geometry)
        w.bypass.setChecked(s.bypass)
        w.set_ptt_key(s.ptt_key)
        w.push_to_talk.setChecked(s.push_to_talk)
        w.monitor_enabled.setChecked(s.monitor_enabled)
        w.controls.set_gain_values(
            GainValues(s.input_gain_db, s.output_gain_db, s.monitor_gain_db, s.gate_db)
        )
        w.controls.set_stream_values(StreamValues(s.block_ms, s.crossfade_ms, s.extra_ms, s.late_policy))
        w.conversions.set_output_folder(self.conversion.output_dir())
        self.devices.fill_compute()
        self.devices.populate()
        self.voices.reload(select=s.voice)

    def _connect(self) -> None:
        w, live, voices = self.window, self.live, self.voices
        voices.voice_ready.connect(live.refresh_status)  # first: the status line follows the new voice
        w.toggle.toggled.connect(live.on_toggle)
        w.bypass.toggled.connect(live.on_bypass)
        w.push_to_talk.toggled.connect(self.ptt.set_enabled)
        w.talk_held.connect(self.ptt.set_held)
        self.ptt.changed.connect(live.on_ptt_changed)
        for picker in (w.input_picker, w.output_picker, w.monitor_picker):
            picker.device_chosen.connect(lambda _key: self.devices.apply())
        w.monitor_enabled.toggled.connect(lambda _on: self.devices.apply())
        w.refresh_devices.clicked.connect(self.rescan_devices)
        w.compute_picker.currentIndexChanged.connect(self.devices.on_compute_picked)
        self.devices.compute_changed.connect(lambda _device: voices.rebuild())
        w.voices.voice_selected.connect(voices.select)
        w.voices.import_requested.connect(voices.import_dialog)
        w.voices.remove_requested.connect(voices.remove)
        w.controls.voice_params_changed.connect(live.on_voice_params)
        w.controls.gains_changed.connect(live.on_gains)
        w.controls.stream_changed.connect(self._on_stream)
        w.files_dropped.connect(self.handle_drop)
        w.import_action.triggered.connect(voices.import_dialog)
        w.convert_action.triggered.connect(self.conversion.add_files_dialog)
        w.about_action.triggered.connect(self.dialogs.about)
        w.train_action.triggered.connect(self.training.open_wizard)
        w.training.clicked.connect(self.training.open_wizard)
        w.measure_action.triggered.connect(self.latency.measure)
        w.ptt_key_action.triggered.connect(self.ptt.choose_key)
        w.data_folder_action.triggered.connect(lambda: self.dialogs.reveal(paths.data_dir()))
        w.log_action.triggered.connect(lambda: self.dialogs.reveal(paths.log_file()))
        w.closing.connect(self.shutdown)
        self.engine.stats_updated.connect(w.meter.update_stats)
        self.engine.running_changed.connect(live.show_running)
        self.engine.running_changed.connect(lambda on: w.meter.reset() if on else None)
        self.engine.error_occurred.connect(live.on_engine_error)

    def _on_stream(self, s: StreamValues) -> None:
        """Block size, crossfade, context or late policy changed: new engine config, voice rebuilt."""
        self.settings.commit(
            replace(
                self.settings.current,
                block_ms=s.block_ms,
                crossfade_ms=s.crossfade_ms,
                extra_ms=s.extra_ms,
                late_policy=s.late_policy,
            )
        )
        self.devices.apply()
        self.voices.rebuild()

    def rescan_devices(self) -> None:
        """Rescan PortAudio's devices (the engine stops for it and restarts if it ran)."""
        was_running = self.live.running
        self.live.stop()
        self.devices.rescan()
        if was_running:
            self.live.start()

    def handle_drop(self, files: list[Path]) -> None:
        """Audio files are converted; everything else is treated as a voice import."""
        audio = [f for f in files if is_audio_file(f)]
        models = [f for f in files if f not in audio]
        if models:
            self.voices.import_files(models)
        if audio:
            self.conversion.convert(audio)

    def shutdown(self) -> None:
        """Stop audio and workers and write the settings (on window close)."""
        self.settings.save()
        self.ptt.shutdown()
        self.engine.shutdown()
        self.conversion.shutdown()
        self.voices.shutdown()
        self.latency.shutdown()
