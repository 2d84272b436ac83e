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
        except (VoxshiftError, OSError, RuntimeError, ValueError) as err:
            self.failed.emit(f"{type(err).__name__}: {err}")
            return
        self.succeeded.emit(result)


class BackgroundCall(QObject):
    """``fn()`` on its own thread; ``succeeded(result)`` or ``failed(message)``, then ``ended``.

    The object keeps itself alive until the thread has ended; callers just connect and ``start()``.
    """

    succeeded = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._runner = _Runner(fn)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.succeeded.connect(self.succeeded)
        self._runner.failed.connect(self.failed)
        self._runner.succeeded.connect(self._thread.quit)
        self._runner.failed.connect(self._thread.quit)
        self._thread.finished.connect(self.ended)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, msecs: int = 30000) -> bool:
        return self._thread.wait(msecs)
