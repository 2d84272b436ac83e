"""Wires the main window to the engine model, the voice library, the conversion queue and settings.

All behaviour of the window lives here (``main_window.py`` is layout only). Everything runs on the
GUI thread except voice loading and file conversion, which run on worker QThreads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, QThread, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import paths
from app.compute import CPU, gpu_warning, list_compute_devices
from app.engine_model import EngineModel
from app.file_convert import ConversionQueue, is_audio_file
from app.hotkeys import GlobalKey
from app.main_window import MainWindow
from app.settings import AppSettings, load_settings, save_settings
from app.versions import version_report
from app.voice_factory import VoiceBuild, hop_samples, make_voice
from app.voice_library import VoiceEntry, VoiceImportError, VoiceLibrary
from app.widgets.device_picker import DeviceChoice
from app.widgets.live_controls import GainValues, StreamValues
from models.base import Voice
from models.errors import VoxshiftError

if TYPE_CHECKING:
    from app.training import TrainingWizard

log = logging.getLogger(__name__)

MUTE_DB = -96.0
"""Output gain while push-to-talk is released (the engine's lowest gain)."""
GATE_OFF_DB = -90.0
"""The gate slider's lowest position means "gate off"."""


class _VoiceLoader(QObject):
    """Builds voices on its own thread (RVC/LLVC loading takes seconds); results carry a token."""

    loaded = Signal(int, object)
    failed = Signal(int, str)

    @Slot(int, object, object, object)
    def load(self, token: int, entry: VoiceEntry, build: VoiceBuild, params: Any) -> None:
        try:
            voice = make_voice(entry, build, params)
            voice.warmup()
        except (VoxshiftError, OSError, ValueError, RuntimeError) as err:
            self.failed.emit(token, str(err))
            return
        self.loaded.emit(token, voice)


class _LatencyProbe(QObject):
    """Runs one loopback measurement (``audio.loopback``) on its own thread: about a second."""

    measured = Signal(object)
    failed = Signal(str)

    @Slot(object)
    def run(self, job: Callable[[], Any]) -> None:
        try:
            result = job()
        except (VoxshiftError, OSError, ValueError, RuntimeError) as err:
            self.failed.emit(str(err))
            return
        self.measured.emit(result)


class AppController(QObject):
    """Owns the app's objects for one window."""

    _request_voice = Signal(int, object, object, object)
    _request_measure = Signal(object)
    voice_ready = Signal(str)
    """voice id, once the selected voice is built and handed to the engine"""
    latency_measured = Signal(object)
    """an ``audio.loopback.LoopbackResult`` after Tools > Measure latency… succeeded"""
    latency_failed = Signal(str)
    """the plain message when the measurement failed (no loopback, device error)"""

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
        self.store = store
        self.settings: AppSettings = load_settings(store)
        self.engine = engine or EngineModel(parent=self)
        self.library = library or VoiceLibrary()
        self._wizard: TrainingWizard | None = None
        self.queue = ConversionQueue(self)
        self.errors: list[str] = []
        self.voice_entry: VoiceEntry | None = None
        self._voice_token = 0
        self._ptt_down = False
        self.global_ptt = GlobalKey(self.settings.ptt_key, parent=self)
        """push-to-talk while another app has focus (started while push-to-talk is on)"""
        self.global_ptt_note = ""
        """why push-to-talk works only while the window has focus ("" when it works everywhere)"""
        self._messages: list[QMessageBox] = []
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save)
        self._loader_thread = QThread(self)
        self._loader_thread.setObjectName("voice-loader")
        self._loader = _VoiceLoader()
        self._loader.moveToThread(self._loader_thread)
        self._request_voice.connect(self._loader.load)
        self._loader.loaded.connect(self._on_voice_loaded)
        self._loader.failed.connect(self._on_voice_failed)
        self._loader_thread.start()
        self._probe_thread = QThread(self)
        self._probe_thread.setObjectName("latency-probe")
        self._probe = _LatencyProbe()
        self._probe.moveToThread(self._probe_thread)
        self._request_measure.connect(self._probe.run)
        self._probe.measured.connect(self._on_latency_measured)
        self._probe.failed.connect(self._on_latency_failed)
        self._measuring: tuple[bool, Any] | None = None
        """(engine was running, planned latency before) while a measurement runs"""
        self.last_loopback: Any = None
        """the last ``LoopbackResult`` (None before the first successful measurement)"""
        self.loopback_config: Any = None
        """an ``audio.loopback.LoopbackConfig`` for the measurement (None: its defaults); its
        blocksize and latency are replaced by the engine's"""
        self.on_loopback_open: Callable[[], None] | None = None
        """called on the probe thread once the measurement stream runs (tests wire JACK there)"""
        self._restore()
        self._connect()
        self._sync_global_ptt()
        self.engine.begin_polling()

    # restore -------------------------------------------------------------------------------
    def _restore(self) -> None:
        w, s = self.window, self.settings
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
        w.conversions.set_output_folder(self.output_dir())
        self._fill_compute()
        self.populate_devices(restore=True)
        self.reload_voices(select=s.voice)

    def _fill_compute(self) -> None:
        try:
            devices = list_compute_devices()
        except (ImportError, RuntimeError) as err:
            log.warning("compute devices unavailable: %s", err)
            devices = [CPU]
        picker = self.window.compute_picker
        picker.blockSignals(True)
        picker.clear()
        for device in devices:
            picker.addItem(device.label, device.id)
        index = picker.findData(self.settings.compute_device)
        picker.setCurrentIndex(max(0, index))
        picker.blockSignals(False)
        if index < 0 and self.settings.compute_device != CPU.id:
            self._update(compute_device=CPU.id)
        self.window.show_compute_note(gpu_warning())

    # devices -------------------------------------------------------------------------------
    def populate_devices(self, *, restore: bool = False) -> None:
        """Fill the pickers from PortAudio; saved devices that are gone fall back to the default."""
        from audio import devices

        w = self.window
        notes = []
        for kind, picker, saved_key, field in (
            ("input", w.input_picker, self.settings.input_device, "input_device"),
            ("output", w.output_picker, self.settings.output_device, "output_device"),
            ("output", w.monitor_picker, self.settings.monitor_device, "monitor_device"),
        ):
            try:
                default_index = devices.default_device(kind).index  # type: ignore[arg-type]
            except devices.DeviceError:
                default_index = -1
            choices = [
                DeviceChoice(
                    key=_device_key(d.name, d.hostapi),
                    name=d.name,
                    group=d.hostapi,
                    index=d.index,
                    samplerate=d.default_samplerate,
                    is_default=d.index == default_index,
                )
                for d in devices.list_devices(kind)  # type: ignore[arg-type]
            ]
            picker.set_choices(choices)
            if saved_key and not picker.select_key(saved_key):
                picker.select_default()
                chosen = picker.current_choice()
                fallback = chosen.name if chosen else "none"
                notes.append(
                    f"Saved {field.split('_')[0]} device '{saved_key.split('|')[0]}' is not "
                    f"available; using '{fallback}'."
                )
            elif not saved_key:
                picker.select_default()
        if not w.input_picker.choices() or not w.output_picker.choices():
            notes.append("No audio input or output device was found: connect one and press Rescan.")
        w.show_device_note(" ".join(notes))
        self._apply_devices()

    def _apply_devices(self) -> None:
        """Remember the pickers' selection and hand a new config to the engine (restarts if running)."""
        w = self.window
        self._update(
            input_device=w.input_picker.current_key(),
            output_device=w.output_picker.current_key(),
            monitor_device=w.monitor_picker.current_key(),
            monitor_enabled=w.monitor_enabled.isChecked(),
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

    def engine_config(self) -> Any:
        """The EngineConfig for the current pickers and block size, or None without devices."""
        from audio.config import EngineConfig

        w = self.window
        chosen_in, chosen_out = w.input_picker.current_choice(), w.output_picker.current_choice()
        if chosen_in is None or chosen_out is None:
            return None
        monitor = w.monitor_picker.current_choice() if w.monitor_enabled.isChecked() else None
        rate = int(chosen_in.samplerate)
        hop = hop_samples(self.settings.block_ms, rate)
        return EngineConfig(
            input_device=chosen_in.index,
            output_device=chosen_out.index,
            monitor_device=monitor.index if monitor else None,
            samplerate=rate,
            hop=hop,
            prefill=hop,
            late_policy=self.settings.late_policy,
        )

    def rescan_devices(self) -> None:
        from audio import devices

        was_running = self.engine.running
        self.engine.stop()
        devices.refresh()
        self.populate_devices()
        if was_running:
            self._start()

    # voices --------------------------------------------------------------------------------
    def reload_voices(self, select: str | None = None) -> None:
        entries = self.library.entries()
        self.window.voices.set_entries(entries, str(self.library.shared_dir), select)
        current = self.window.voices.current_id()
        if current is None and entries:
            self.window.voices.select(entries[0].id)
            current = entries[0].id
        if current is not None:
            self.select_voice(current)

    def select_voice(self, voice_id: str) -> None:
        entry = self.library.find(voice_id)
        if entry is None:
            return
        self.voice_entry = entry
        params = self.settings.params_for(voice_id)
        self.window.controls.set_voice_settings(params)
        self.window.controls.set_voice_kind(entry.kind)
        self._update(voice=voice_id)
        self._build_voice()

    def _voice_build(self) -> VoiceBuild:
        s = self.settings
        return VoiceBuild(s.block_ms, s.crossfade_ms, s.extra_ms, s.compute_device)

    def _build_voice(self) -> None:
        entry = self.voice_entry
        if entry is None:
            return
        self._voice_token += 1
        params = self.settings.params_for(entry.id)
        self.window.set_status(f"Loading {entry.name}…")
        self._request_voice.emit(self._voice_token, entry, self._voice_build(), params)

    def _on_voice_loaded(self, token: int, voice: Voice) -> None:
        if token != self._voice_token or self.voice_entry is None:
            return
        self.engine.set_voice(voice)
        self._refresh_status()
        self.voice_ready.emit(self.voice_entry.id)

    def _on_voice_failed(self, token: int, message: str) -> None:
        if token == self._voice_token:
            name = self.voice_entry.name if self.voice_entry else "voice"
            self.show_error(f"Could not load {name}", message)

    def import_voices(self, files: list[Path]) -> bool:
        """Validate and copy a drop of model files; shows an error and imports nothing on failure."""
        try:
            result = self.library.import_files(files)
        except VoiceImportError as err:
            self.show_error("Import failed", str(err))
            return False
        select = result.voices[0].id if result.voices else self.window.voices.current_id()
        self.reload_voices(select=select)
        names = [v.name for v in result.voices] + list(result.shared)
        self.window.set_status(f"Imported {', '.join(names)}", "good")
        return True

    def remove_voice(self, voice_id: str) -> None:
        entry = self.library.find(voice_id)
        if entry is None or entry.builtin:
            return
        answer = QMessageBox.question(self.window, "Remove voice", f"Remove {entry.name} from the library?")
        if answer == QMessageBox.StandardButton.Yes:
            self.library.remove(voice_id)
            self.reload_voices(select="builtin:passthrough")

    # live parameters -----------------------------------------------------------------------
    def live_params(self) -> Any:
        from app.voice_factory import to_voice_params
        from audio.config import LiveParams

        s = self.settings
        voice_id = self.voice_entry.id if self.voice_entry else s.voice
        muted = s.push_to_talk and not self._ptt_down
        return LiveParams(
            voice=to_voice_params(s.params_for(voice_id)),
            input_gain_db=s.input_gain_db,
            output_gain_db=MUTE_DB if muted else s.output_gain_db,
            monitor_gain_db=MUTE_DB if muted else s.monitor_gain_db,
            gate_db=-120.0 if s.gate_db <= GATE_OFF_DB else s.gate_db,
            bypass=s.bypass,
        )

    def _push_live(self) -> None:
        self.engine.set_live(self.live_params())

    def _on_voice_params(self, params: Any) -> None:
        if self.voice_entry is None:
            return
        self.settings = self.settings.with_params(self.voice_entry.id, params)
        self._save_timer.start()
        self._push_live()

    def _on_gains(self, g: GainValues) -> None:
        self._update(
            input_gain_db=g.input_gain_db,
            output_gain_db=g.output_gain_db,
            monitor_gain_db=g.monitor_gain_db,
            gate_db=g.gate_db,
        )
        self._push_live()

    def _on_stream(self, s: StreamValues) -> None:
        self._update(
            block_ms=s.block_ms, crossfade_ms=s.crossfade_ms, extra_ms=s.extra_ms, late_policy=s.late_policy
        )
        self._apply_devices()
        self._build_voice()

    def _on_bypass(self, on: bool) -> None:
        self._update(bypass=on)
        self._push_live()
        self._refresh_status()

    def _on_ptt_mode(self, on: bool) -> None:
        self._update(push_to_talk=on)
        self._sync_global_ptt()
        self._push_live()
        self._refresh_status()

    def _sync_global_ptt(self) -> None:
        """Listen to the push-to-talk key on the whole desktop while push-to-talk is on."""
        if not self.settings.push_to_talk:
            self.global_ptt.stop()
            return
        reason = self.global_ptt.start()
        self.global_ptt_note = "" if reason is None else reason
        key = self.settings.ptt_key
        where = "in any app" if reason is None else f"while this window has focus ({reason})"
        self.window.push_to_talk.setToolTip(
            f"Silent unless {key} or the Talk button is held; {key} works {where}"
        )

    def set_ptt_key(self, name: str) -> None:
        """Use ``name`` (an ``app.hotkeys.PTT_KEYS`` name) as the push-to-talk key, here and globally."""
        self.global_ptt.set_key(name)  # raises ValueError for an unknown key, before anything changes
        self._update(ptt_key=name)
        self._on_ptt(False)  # a key held while switching must not leave the output open
        self.window.set_ptt_key(name)
        self._sync_global_ptt()

    def _choose_ptt_key(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        from app.hotkeys import PTT_KEYS

        keys = list(PTT_KEYS)
        name, ok = QInputDialog.getItem(
            self.window,
            "Push-to-talk key",
            "Hold this key to talk (it works in other apps too, where the system allows it):",
            keys,
            keys.index(self.settings.ptt_key),
            False,
        )
        if ok:
            self.set_ptt_key(name)

    def _on_ptt(self, down: bool) -> None:
        self._ptt_down = down
        self._push_live()
        self._refresh_status()

    # start/stop ----------------------------------------------------------------------------
    def _on_toggle(self, on: bool) -> None:
        if on:
            self._start()
        else:
            self.engine.stop()

    def _start(self) -> None:
        self._push_live()
        if not self.engine.start():
            self._sync_toggle(False)

    def _sync_toggle(self, running: bool) -> None:
        toggle = self.window.toggle
        if toggle.isChecked() != running:
            toggle.blockSignals(True)
            toggle.setChecked(running)
            toggle.blockSignals(False)
            toggle._refresh(running)
        self._refresh_status()

    def _refresh_status(self) -> None:
        w, s = self.window, self.settings
        name = self.voice_entry.name if self.voice_entry else "no voice"
        if not self.engine.running:
            w.set_status(f"Stopped · voice: {name}")
        elif s.push_to_talk and not self._ptt_down:
            w.set_status(f"Live · {name} · muted (hold {s.ptt_key} or Talk)", "warn")
        elif s.bypass:
            w.set_status("Live · bypass (dry voice)", "warn")
        else:
            w.set_status(f"Live · {name}", "good")

    def _on_engine_error(self, message: str) -> None:
        self._sync_toggle(self.engine.running)
        self.window.set_status(message, "bad")
        self.window.show_device_note(
            f"{message}\nPick another device (or press Rescan devices after plugging it back in), "
            "then press ON."
        )
        self.errors.append(message)
        log.warning("engine: %s", message)

    # latency measurement -------------------------------------------------------------------
    def measure_latency(self) -> bool:
        """Stop the engine, measure the loopback round trip off the GUI thread, restart after.

        Returns False when nothing was started (already measuring, or no devices).
        """
        from audio.loopback import LoopbackConfig, measure_loopback

        config = self.engine_config()
        if self._measuring is not None:
            return False
        if config is None:
            self.show_error("No audio devices", "Pick an input and an output device, then measure again.")
            return False
        engine = self.engine.engine
        planned = engine.planned_latency() if engine is not None and self.engine.running else None
        self._measuring = (self.engine.running, planned)
        self.engine.stop()
        self.window.measure_action.setEnabled(False)
        self.window.set_status("Measuring the loopback round trip…", "warn")
        if not self._probe_thread.isRunning():
            self._probe_thread.start()
        # the engine's block size and latency setting: the round trip its own stream will have
        probe = replace(
            self.loopback_config or LoopbackConfig(),
            blocksize=config.blocksize or config.hop,
            latency=config.device_latency,
        )
        job = partial(
            measure_loopback,
            config.input_device,
            config.output_device,
            config.samplerate,
            config=probe,
            on_stream_open=self.on_loopback_open,
        )
        self._request_measure.emit(job)
        return True

    def _end_measurement(self) -> Any:
        """Re-enable the action, restart the engine if it ran before; returns the planned latency."""
        was_running, planned = self._measuring or (False, None)
        self._measuring = None
        self.window.measure_action.setEnabled(True)
        if was_running:
            self._start()
        self._refresh_status()
        return planned

    def _on_latency_measured(self, result: Any) -> None:
        planned = self._end_measurement()
        self.last_loopback = result
        ms = result.lag_seconds * 1e3
        self.window.meter.tiles["measured"].setToolTip(
            f"Last loopback measurement (Tools > Measure latency…): {ms:.1f} ms device round trip"
        )
        text = _latency_text(result, planned)
        log.info("loopback: %s", text.replace("\n", " "))
        box = QMessageBox(
            QMessageBox.Icon.Information, "Measured latency", text, QMessageBox.StandardButton.Ok, self.window
        )
        box.setObjectName("latencyDialog")
        box.finished.connect(lambda _r: self._messages.remove(box) if box in self._messages else None)
        self._messages.append(box)
        box.open()
        self.latency_measured.emit(result)

    def _on_latency_failed(self, message: str) -> None:
        self._end_measurement()
        self.show_error("Latency not measured", message)
        self.latency_failed.emit(message)

    # file conversion -----------------------------------------------------------------------
    def output_dir(self) -> Path:
        return Path(self.settings.output_dir) if self.settings.output_dir else paths.default_output_dir()

    def convert_files(self, files: list[Path]) -> list[int]:
        """Queue audio files for conversion with the selected voice; returns the job ids."""
        entry = self.voice_entry
        if entry is None:
            self.show_error("No voice selected", "Select a voice in the library, then drop the files again.")
            return []
        build, params = self._voice_build(), self.settings.params_for(entry.id)
        try:
            ids = [
                self.queue.add(f, self.output_dir(), entry.name, _voice_maker(entry, build, params)).id
                for f in files
            ]
        except OSError as err:
            self.show_error("Cannot write the output folder", f"{self.output_dir()}: {err}")
            return []
        self.window.tabs.setCurrentIndex(1)
        return ids

    def set_output_dir(self, folder: Path) -> None:
        self._update(output_dir=str(folder))
        self.window.conversions.set_output_folder(folder)

    def _on_job_added(self, job: Any) -> None:
        self.window.conversions.add_row(job.id, job.source, job.voice_name)

    def _show_in_folder(self, job_id: int) -> None:
        job = self.queue.job(job_id)
        if job is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(job.target.parent)))

    def _choose_output_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Output folder", str(self.output_dir()))
        if folder:
            self.set_output_dir(Path(folder))

    def _add_files_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Convert audio files", "", "Audio (*.*)")
        if files:
            self.convert_files([Path(f) for f in files])

    def _import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self.window, "Import voice", "", "Voice files (*.pth *.pt *.ckpt *.index *.json);;All files (*)"
        )
        if files:
            self.import_voices([Path(f) for f in files])

    # drops ---------------------------------------------------------------------------------
    def handle_drop(self, files: list[Path]) -> None:
        """Audio files are converted; everything else is treated as a voice import."""
        audio = [f for f in files if is_audio_file(f)]
        models = [f for f in files if f not in audio]
        if models:
            self.import_voices(models)
        if audio:
            self.convert_files(audio)

    # errors, about, settings ---------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """A non-blocking dialog plus a log line."""
        log.error("%s: %s", title, message)
        self.errors.append(message)
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self.window
        )
        box.setObjectName("errorDialog")
        box.finished.connect(lambda _r: self._messages.remove(box) if box in self._messages else None)
        self._messages.append(box)
        box.open()

    def _watch_training(self, wizard: TrainingWizard) -> None:
        """Keep the main window's training indicator in step with the wizard's trainer process."""
        process, window = wizard.process, self.window
        state = {"stage": "starting"}

        def on_stage(event: Any) -> None:
            state["stage"] = str(event.name)
            window.show_training(f"Training: {state['stage']}…")

        def on_progress(event: Any) -> None:
            if event.total > 0:
                pct = 100.0 * event.done / event.total
                window.show_training(f"Training: {event.stage} {pct:.0f}%")

        process.started.connect(lambda: window.show_training("Training: starting…"))
        process.stage.connect(on_stage)
        process.progress.connect(on_progress)
        process.finished.connect(lambda _code: window.show_training(None))

    def open_training_wizard(self) -> TrainingWizard:
        """The training wizard (non-modal); a finished voice lands in this library and is listed."""
        from app.training import open_training_wizard

        # a wizard hidden with "keep training in background" is shown again, never duplicated
        if self._wizard is None or not (self._wizard.isVisible() or self._wizard.process.running):
            self._wizard = open_training_wizard(self.window, lambda: self.library.root)
            self._wizard.voice_ready.connect(lambda _path: self.reload_voices())
            self._watch_training(self._wizard)
        self._wizard.show()
        self._wizard.raise_()
        self._wizard.activateWindow()
        return self._wizard

    def show_about(self) -> None:
        text = (
            "<h3>Voxshift</h3><p>A realtime voice changer: built-in voices, RVC and LLVC models, "
            "honest latency numbers.</p><pre>"
            + version_report()
            + f"</pre><p>Data folder: {paths.data_dir()}<br>Log: {paths.log_file()}</p>"
        )
        box = QMessageBox(QMessageBox.Icon.Information, "About Voxshift", text, parent=self.window)
        box.setObjectName("aboutDialog")
        self._messages.append(box)
        box.open()

    def _update(self, **changes: Any) -> None:
        self.settings = replace(self.settings, **changes)
        self._save_timer.start()

    def save(self) -> None:
        self.settings = replace(self.settings, geometry=bytes(self.window.saveGeometry().data()))
        save_settings(self.store, self.settings)

    def shutdown(self) -> None:
        """Stop audio and workers and write the settings (on window close)."""
        self._save_timer.stop()
        self.save()
        self.global_ptt.stop()
        self.engine.shutdown()
        self.queue.shutdown()
        self._loader_thread.quit()
        self._loader_thread.wait()
        self._probe_thread.quit()
        self._probe_thread.wait()

    # signals -------------------------------------------------------------------------------
    def _connect(self) -> None:
        w = self.window
        w.toggle.toggled.connect(self._on_toggle)
        w.bypass.toggled.connect(self._on_bypass)
        w.push_to_talk.toggled.connect(self._on_ptt_mode)
        w.talk_held.connect(self._on_ptt)
        self.global_ptt.held.connect(self._on_ptt)
        for picker in (w.input_picker, w.output_picker, w.monitor_picker):
            picker.device_chosen.connect(lambda _key: self._apply_devices())
        w.monitor_enabled.toggled.connect(lambda _on: self._apply_devices())
        w.refresh_devices.clicked.connect(self.rescan_devices)
        w.compute_picker.currentIndexChanged.connect(self._on_compute)
        w.voices.voice_selected.connect(self.select_voice)
        w.voices.import_requested.connect(self._import_dialog)
        w.voices.remove_requested.connect(self.remove_voice)
        w.controls.voice_params_changed.connect(self._on_voice_params)
        w.controls.gains_changed.connect(self._on_gains)
        w.controls.stream_changed.connect(self._on_stream)
        w.files_dropped.connect(self.handle_drop)
        w.import_action.triggered.connect(self._import_dialog)
        w.convert_action.triggered.connect(self._add_files_dialog)
        w.about_action.triggered.connect(self.show_about)
        w.train_action.triggered.connect(self.open_training_wizard)
        w.training.clicked.connect(self.open_training_wizard)
        w.measure_action.triggered.connect(self.measure_latency)
        w.ptt_key_action.triggered.connect(self._choose_ptt_key)
        w.data_folder_action.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.data_dir())))
        )
        w.log_action.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.log_file())))
        )
        w.closing.connect(self.shutdown)
        c = w.conversions
        c.cancel_requested.connect(self.queue.cancel)
        c.show_requested.connect(self._show_in_folder)
        c.choose_folder_requested.connect(self._choose_output_folder)
        c.add_files_requested.connect(self._add_files_dialog)
        q = self.queue
        q.job_added.connect(self._on_job_added)
        q.job_started.connect(c.set_started)
        q.job_progress.connect(c.set_progress)
        q.job_finished.connect(lambda i, p: c.set_done(i, Path(p)))
        q.job_failed.connect(c.set_failed)
        q.job_cancelled.connect(c.set_cancelled)
        self.engine.stats_updated.connect(w.meter.update_stats)
        self.engine.running_changed.connect(self._sync_toggle)
        self.engine.running_changed.connect(lambda on: w.meter.reset() if on else None)
        self.engine.error_occurred.connect(self._on_engine_error)

    def _on_compute(self, _index: int) -> None:
        self._update(compute_device=str(self.window.compute_picker.currentData()))
        self._build_voice()


def _device_key(name: str, hostapi: str) -> str:
    return f"{name}|{hostapi}"


def _latency_text(result: Any, planned: Any) -> str:
    """The message box text: the round trip and what it means next to the planned latency."""
    ms = result.lag_seconds * 1e3
    lines = [
        f"Round trip output -> input: {ms:.1f} ms ({result.lag_frames} frames at {result.samplerate} Hz, "
        f"correlation {result.correlation:.2f}).",
        "That is what the sound card, its driver buffers and the loopback add, without Voxshift "
        f"(PortAudio's own estimate for these buffers: {result.reported_latency * 1e3:.1f} ms).",
    ]
    if planned is not None and planned.total > 0:
        engine_ms = planned.engine * 1e3
        lines.append(
            f"The meter's planned latency is {planned.total * 1e3:.1f} ms: {engine_ms:.1f} ms of it is the "
            f"engine (hop, prefill, resampler, voice), so live you should hear about "
            f"{ms + engine_ms:.1f} ms from microphone to output."
        )
    else:
        lines.append(
            "Live latency is this round trip plus what the engine adds (hop, prefill, resampler, voice): "
            "start the engine and look at Planned latency in the meter."
        )
    return "\n\n".join(lines)


def _voice_maker(entry: VoiceEntry, build: VoiceBuild, params: Any) -> Any:
    return lambda: make_voice(entry, build, params)
