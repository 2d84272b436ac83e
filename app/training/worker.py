"""Run one blocking call (dataset scan, sample conversion) on a QThread and report back by signal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from models.errors import VoxshiftError


class _Runner(QObject):
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._fn = fn

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn()
        except VoxshiftError as err:
            self.failed.emit(str(err))
            return
        except Exception as err:  # a thread boundary: report anything, never leave the call hanging
            self.failed.emit(f"{type(err).__name__}: {err}")
            return
        self.succeeded.emit(result)


_ALIVE: set[BackgroundCall] = set()
"""Calls whose thread runs: a QThread destroyed while running aborts the process, so a call
outlives whoever started it (a closed wizard) until its thread has ended."""


class BackgroundCall(QObject):
    """``fn()`` on its own thread; ``succeeded(result)`` or ``failed(message)``, then ``ended``.

    The object keeps itself alive until the thread has ended; callers connect bound methods (which
    Qt disconnects when the receiver is deleted) and call ``start()``.
    """

    succeeded = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._thread = QThread()
        self._runner = _Runner(fn)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.succeeded.connect(self.succeeded)
        self._runner.failed.connect(self.failed)
        self._runner.succeeded.connect(self._thread.quit)
        self._runner.failed.connect(self._thread.quit)
        self._thread.finished.connect(self._on_ended)

    def start(self) -> None:
        _ALIVE.add(self)
        self._thread.start()

    @Slot()
    def _on_ended(self) -> None:
        self.ended.emit()
        _ALIVE.discard(self)

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, msecs: int = 30000) -> bool:
        return self._thread.wait(msecs)
