"""The Qt face of ``audio.Engine``: start/stop/restart from slots, and a ~30 Hz poll of its stats.

The engine is never called from the audio thread here: the GUI thread reads ``engine.stats()`` (a
cheap snapshot of plain counters) on a QTimer and emits it. A stream that died (device unplugged)
is noticed on that poll and reported once as a readable message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from models.base import Voice
from models.errors import VoxshiftError

log = logging.getLogger(__name__)

POLL_MS = 33

EngineFactory = Callable[[Any, Voice | None], Any]
"""(EngineConfig, voice) -> an object with the audio.Engine interface."""


def _default_factory(config: Any, voice: Voice | None) -> Any:
    from audio.engine import Engine

    return Engine(config, voice)


class EngineModel(QObject):
    """Owns the engine; every call comes from the GUI thread."""

    running_changed = Signal(bool)
    stats_updated = Signal(object)
    """An ``audio.config.EngineStats`` snapshot, ~30 times a second while the window is open."""
    error_occurred = Signal(str)

    def __init__(self, factory: EngineFactory | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = factory or _default_factory
        self._engine: Any = None
        self._config: Any = None
        self._voice: Voice | None = None
        self._live: Any = None
        self._running = False
        self._reported_error: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)

    # state ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    @property
    def engine(self) -> Any:
        return self._engine

    @property
    def config(self) -> Any:
        return self._config

    @property
    def voice(self) -> Voice | None:
        return self._voice

    # commands ------------------------------------------------------------------------------
    def set_config(self, config: Any) -> None:
        """Use ``config`` from now on; a running stream restarts on the new devices/hop."""
        self._config = config
        if self._running and self._engine is not None:
            self._guarded(lambda: self._engine.restart(config), "restarting the audio stream")

    def set_voice(self, voice: Voice | None) -> None:
        """Swap the voice (the engine warms it up off the audio path and crossfades at a hop)."""
        self._voice = voice
        if self._engine is not None and voice is not None:
            self._guarded(lambda: self._engine.set_voice(voice), "switching the voice")

    def set_live(self, live: Any) -> None:
        """New live parameters (``audio.config.LiveParams``); takes effect at the next hop."""
        self._live = live
        if self._engine is not None:
            self._engine.set_params(live)

    def start(self) -> bool:
        if self._running:
            return True
        if self._config is None:
            self.error_occurred.emit("No audio devices are configured.")
            return False
        ok = self._guarded(self._start, "starting the audio stream")
        self._set_running(ok)
        return ok

    def stop(self) -> None:
        if self._engine is not None and self._running:
            self._guarded(self._engine.stop, "stopping the audio stream")
        self._set_running(False)

    def toggle(self) -> bool:
        if self._running:
            self.stop()
        else:
            self.start()
        return self._running

    def begin_polling(self) -> None:
        self._timer.start()

    def shutdown(self) -> None:
        self._timer.stop()
        self.stop()
        self._engine = None

    # poll ----------------------------------------------------------------------------------
    def poll(self) -> Any:
        """Read one stats snapshot, emit it, and notice a stream that died. Returns the snapshot."""
        if self._engine is None:
            return None
        stats = self._engine.stats()
        if self._running and not stats.running and stats.error:
            self._set_running(False)
            if stats.error != self._reported_error:
                self._reported_error = stats.error
                self.error_occurred.emit(f"The audio stream stopped: {stats.error}")
        self.stats_updated.emit(stats)
        return stats

    # internals -----------------------------------------------------------------------------
    def _start(self) -> None:
        self._reported_error = None
        if self._engine is None:
            self._engine = self._factory(self._config, self._voice)
        else:
            if self._engine.config != self._config:
                self._engine.restart(self._config)
                return
            if self._voice is not None and self._engine.voice is not self._voice:
                self._engine.set_voice(self._voice)
        if self._live is not None:
            self._engine.set_params(self._live)
        self._engine.start()

    def _guarded(self, action: Callable[[], object], what: str) -> bool:
        """Run an engine call; a VoxshiftError (bad device, ...) becomes one readable message."""
        try:
            action()
        except VoxshiftError as err:
            log.warning("%s failed: %s", what, err)
            self.error_occurred.emit(str(err))
            if self._engine is not None and not self._engine.running:
                self._set_running(False)
            return False
        return True

    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)
