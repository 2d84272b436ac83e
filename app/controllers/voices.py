"""The voice library in the window: listing, selecting, importing and removing voices, and building
the selected voice off the GUI thread (RVC and LLVC voices take seconds to load)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.background import Worker
from app.controllers.dialogs import Dialogs
from app.controllers.settings import SettingsModel
from app.engine_model import EngineModel
from app.main_window import MainWindow
from app.settings import VoiceSettings
from app.voice_factory import VoiceBuild, make_voice
from app.voice_library import VoiceEntry, VoiceImportError, VoiceLibrary
from models.base import Voice

PASSTHROUGH_ID = "builtin:passthrough"
VOICE_FILTER = "Voice files (*.pth *.pt *.ckpt *.index *.json);;All files (*)"


class VoiceController(QObject):
    """Owns the selected voice: ``current`` is its library entry; the built voice goes to the engine."""

    voice_ready = Signal(str)
    """voice id, once the selected voice is built and handed to the engine"""

    def __init__(
        self,
        window: MainWindow,
        settings: SettingsModel,
        engine: EngineModel,
        library: VoiceLibrary,
        dialogs: Dialogs,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window, self.settings, self.engine = window, settings, engine
        self.library = library
        self.dialogs = dialogs
        self.current: VoiceEntry | None = None
        self._pending = 0
        """ticket of the newest build: results of older builds are dropped"""
        self._loader = Worker("voice-loader", self)
        self._loader.finished.connect(self._on_built)
        self._loader.failed.connect(self._on_failed)

    # listing and selecting ----------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """List the library anew; select ``select`` (else keep the selection, else the first)."""
        entries = self.library.entries()
        cards = self.window.voices
        cards.set_entries(entries, str(self.library.shared_dir), select)
        current = cards.current_id()
        if current is None and entries:
            cards.select(entries[0].id)
            current = entries[0].id
        if current is not None:
            self.select(current)

    def select(self, voice_id: str) -> None:
        """Make ``voice_id`` the current voice: show its settings and build it."""
        entry = self.library.find(voice_id)
        if entry is None:
            return
        self.current = entry
        self.window.controls.set_voice_settings(self.settings.current.params_for(voice_id))
        self.window.controls.set_voice_kind(entry.kind)
        self.settings.commit(replace(self.settings.current, voice=voice_id))
        self.rebuild()

    def build_settings(self) -> VoiceBuild:
        """What a voice is built from besides its entry (block, crossfade, context, compute device)."""
        s = self.settings.current
        return VoiceBuild(s.block_ms, s.crossfade_ms, s.extra_ms, s.compute_device)

    def params(self) -> VoiceSettings:
        """The current voice's settings (pitch, formant, ...)."""
        s = self.settings.current
        return s.params_for(self.current.id if self.current else s.voice)

    def rebuild(self) -> None:
        """Build the current voice again (after a change of block size or compute device)."""
        entry = self.current
        if entry is None:
            return
        build, params = self.build_settings(), self.params()
        self.window.set_status(f"Loading {entry.name}…")
        self._pending = self._loader.submit(lambda: _warm_voice(entry, build, params))

    def _on_built(self, ticket: int, voice: object) -> None:
        if ticket != self._pending or self.current is None or not isinstance(voice, Voice):
            return
        self.engine.set_voice(voice)
        self.voice_ready.emit(self.current.id)

    def _on_failed(self, ticket: int, message: str) -> None:
        if ticket == self._pending:
            name = self.current.name if self.current else "voice"
            self.dialogs.error(f"Could not load {name}", message)

    # import and removal -------------------------------------------------------------------
    def import_files(self, files: list[Path]) -> bool:
        """Validate and copy a drop of model files; shows an error and imports nothing on failure."""
        try:
            result = self.library.import_files(files)
        except VoiceImportError as err:
            self.dialogs.error("Import failed", str(err))
            return False
        select = result.voices[0].id if result.voices else self.window.voices.current_id()
        self.reload(select=select)
        names = [v.name for v in result.voices] + list(result.shared)
        self.window.set_status(f"Imported {', '.join(names)}", "good")
        return True

    def import_dialog(self) -> None:
        files = self.dialogs.open_files("Import voice", VOICE_FILTER)
        if files:
            self.import_files(files)

    def remove(self, voice_id: str) -> None:
        entry = self.library.find(voice_id)
        if entry is None or entry.builtin:
            return
        if self.dialogs.confirm("Remove voice", f"Remove {entry.name} from the library?"):
            self.library.remove(voice_id)
            self.reload(select=PASSTHROUGH_ID)

    def shutdown(self) -> None:
        self._loader.stop()


def _warm_voice(entry: VoiceEntry, build: VoiceBuild, params: VoiceSettings) -> Voice:
    """Runs on the loader thread: the voice, built and warmed up (first-call allocations done)."""
    voice = make_voice(entry, build, params)
    voice.warmup()
    return voice
