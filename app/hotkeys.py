"""Push-to-talk from anywhere: a global key listener that works while another app has focus.

A gamer holds the push-to-talk key while the game, not Voxshift, has the keyboard focus; Qt only
sees keys sent to its own windows. :class:`GlobalKey` listens to the whole desktop's keyboard with
`pynput <https://pypi.org/project/pynput/>`_ (the X11 RECORD extension on Linux, a low-level
keyboard hook on Windows, a Quartz event tap on macOS), only observing: the key still reaches the
focused app. Its listener thread never touches Qt objects; it emits :attr:`GlobalKey.held`, which
Qt delivers to the main thread (queued), and only when the state changes.

Where it cannot listen (no X display, e.g. a pure Wayland session or a headless machine; macOS
without the Accessibility permission delivers no events at all) :meth:`GlobalKey.start` returns the
reason and push-to-talk keeps working while Voxshift's window has focus.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

DEFAULT_KEY = "F9"

_NAMED = {"Scroll Lock": "scroll_lock", "Pause": "pause", "Insert": "insert", "Caps Lock": "caps_lock"}
PTT_KEYS: tuple[str, ...] = (
    *(f"F{i}" for i in range(1, 21)),
    *_NAMED,
    *(chr(c) for c in range(ord("A"), ord("Z") + 1)),
    *(str(d) for d in range(10)),
)
"""The keys push-to-talk can use, by the name the app shows (single keys that Qt and pynput both
name on every platform; not Space, which toggles the stream)."""


def qt_key(name: str) -> int:
    """The ``Qt.Key`` value of a :data:`PTT_KEYS` name (for the window's own key events)."""
    from PySide6.QtCore import Qt

    attr = {"Scroll Lock": "ScrollLock", "Caps Lock": "CapsLock"}.get(name, name)
    return int(getattr(Qt.Key, f"Key_{attr}").value)


def _pynput_key(keyboard: Any, name: str) -> Any:
    if name in _NAMED:
        return getattr(keyboard.Key, _NAMED[name])
    if len(name) == 1:
        return keyboard.KeyCode.from_char(name.lower())
    return getattr(keyboard.Key, name.lower())


def unavailable_reason() -> str | None:
    """Why a global key listener cannot run here, or None if it can be tried."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        if os.environ.get("WAYLAND_DISPLAY"):
            return "a Wayland session does not let apps watch the keyboard (an X11 session does)"
        return "there is no X display to watch the keyboard on"
    return None


class GlobalKey(QObject):
    """Watches one key (a :data:`PTT_KEYS` name) on the whole desktop.

    ``held(bool)`` is emitted on every change: True when the key goes down, False when it goes up.
    """

    held = Signal(bool)

    def __init__(self, key: str = DEFAULT_KEY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if key not in PTT_KEYS:
            raise ValueError(f"unknown push-to-talk key {key!r}")
        self.key_name = key
        self._listener: Any = None
        self._down = False
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._listener is not None

    def start(self) -> str | None:
        """Start listening; returns None on success, else why it cannot (nothing is started)."""
        if self._listener is not None:
            return None
        reason = unavailable_reason()
        if reason is not None:
            return reason
        try:
            from pynput import keyboard
        except Exception as err:  # pynput raises ImportError or Xlib errors when it has no backend
            return f"the keyboard cannot be watched here ({type(err).__name__}: {err})"
        try:
            target = _pynput_key(keyboard, self.key_name)
        except AttributeError:  # e.g. Insert, Pause or Scroll Lock on macOS
            return f"{self.key_name} cannot be watched on this system; pick another key"

        def matches(key: Any) -> bool:
            if isinstance(target, keyboard.KeyCode) and isinstance(key, keyboard.KeyCode):
                return (key.char or "").lower() == target.char  # with or without Shift
            return bool(key == target)

        def on_press(key: Any) -> None:
            if matches(key):
                self._set(True)

        def on_release(key: Any) -> None:
            if matches(key):
                self._set(False)

        try:
            listener = keyboard.Listener(on_press=on_press, on_release=on_release)
            listener.daemon = True
            listener.start()
            listener.wait()  # until the backend is set up (or failed)
        except Exception as err:  # a backend that fails at start: keep the window-only key
            return f"the keyboard cannot be watched here ({type(err).__name__}: {err})"
        if not listener.running:
            return "the keyboard listener stopped at start"
        self._listener = listener
        log.info("global push-to-talk key: %s", self.key_name)
        return None

    def set_key(self, key: str) -> None:
        """Watch ``key`` from the next :meth:`start` on (a running listener is stopped)."""
        if key not in PTT_KEYS:
            raise ValueError(f"unknown push-to-talk key {key!r}")
        self.stop()
        self.key_name = key

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()
        self._set(False)

    def _set(self, down: bool) -> None:
        with self._lock:
            if down == self._down:
                return
            self._down = down
        self.held.emit(down)
