"""Blocking calls off the GUI thread: the QObject-on-QThread pattern, written once.

:class:`Worker` owns one QThread and runs the calls submitted to it one after another (a voice
build, a loopback measurement); each result comes back on the GUI thread as ``finished(ticket,
result)`` or ``failed(ticket, message)``. :class:`BackgroundCall` runs a single call on a thread of
its own and keeps itself alive until that thread has ended (the wizard's dataset scan).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from models.errors import VoxshiftError

log = logging.getLogger(__name__)


class _Runner(QObject):
    """Lives on the worker thread and runs what it is sent."""

    finished = Signal(int, object)
    failed = Signal(int, str)

    @Slot(int, object)
    def run(self, ticket: int, call: Callable[[], object]) -> None:
        try:
            result = call()
        except VoxshiftError as err:
            self.failed.emit(ticket, str(err))
            return
        except Exception as err:  # a thread boundary: report anything, never leave a caller waiting
            log.warning("background call failed", exc_info=True)
            self.failed.emit(ticket, f"{type(err).__name__}: {err}")
            return
        self.finished.emit(ticket, result)


class Worker(QObject):
    """One thread that runs submitted calls in order; results arrive as signals on the GUI thread."""

    finished = Signal(int, object)
    """(ticket, result) of a call that returned"""
    failed = Signal(int, str)
    """(ticket, message) of a call that raised (the message a user can read)"""
    ended = Signal()
    """the thread has stopped (after ``quit`` or ``stop``)"""
    _send = Signal(int, object)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tickets = itertools.count(1)
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._send.connect(self._runner.run)
        self._runner.finished.connect(self.finished)
        self._runner.failed.connect(self.failed)
        self._thread.finished.connect(self.ended)

    def submit(self, call: Callable[[], object]) -> int:
        """Queue ``call`` (run after the ones before it); returns its ticket."""
        if not self._thread.isRunning():
            self._thread.start()
        ticket = next(self._tickets)
        self._send.emit(ticket, call)
        return ticket

    @property
    def running(self) -> bool:
        """Whether the thread runs (it starts with the first call and runs until ``quit``)."""
        return self._thread.isRunning()

    def quit(self) -> None:
        """End the thread once the running call returns (without waiting for it)."""
        self._thread.quit()

    def wait(self, msecs: int = 30000) -> bool:
        """Wait up to ``msecs`` for the thread to end; whether it has."""
        return self._thread.wait(msecs)

    def stop(self) -> None:
        """Let the running call finish, drop the queued ones, end the thread."""
        self.quit()
        self.wait()


_ALIVE: set[BackgroundCall] = set()
"""Calls whose thread runs: a QThread destroyed while running aborts the process, so a call
outlives whoever started it (a closed wizard) until its thread has ended."""


class BackgroundCall(QObject):
    """``fn()`` on a thread of its own; ``succeeded(result)`` or ``failed(message)``, then ``ended``.

    The object keeps itself alive until the thread has ended; callers connect bound methods (which
    Qt disconnects when the receiver is deleted) and call ``start()``.
    """

    succeeded = Signal(object)
    failed = Signal(str)
    ended = Signal()

    def __init__(self, fn: Callable[[], object]) -> None:
        super().__init__()
        self._fn = fn
        self._worker = Worker("background-call", self)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.ended.connect(self._on_ended)

    def start(self) -> None:
        _ALIVE.add(self)
        self._worker.submit(self._fn)

    @property
    def running(self) -> bool:
        return self._worker.running

    def wait(self, msecs: int = 30000) -> bool:
        return self._worker.wait(msecs)

    @Slot(int, object)
    def _on_finished(self, _ticket: int, result: object) -> None:
        self._worker.quit()
        self.succeeded.emit(result)

    @Slot(int, str)
    def _on_failed(self, _ticket: int, message: str) -> None:
        self._worker.quit()
        self.failed.emit(message)

    @Slot()
    def _on_ended(self) -> None:
        self.ended.emit()
        _ALIVE.discard(self)
