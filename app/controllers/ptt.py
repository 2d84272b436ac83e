"""Push to talk: the mode, whether the key (or the Talk button) is held, which key it is, and the
global listener that hears the key while another app has the focus."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from app.controllers.dialogs import Dialogs
from app.controllers.settings import SettingsModel
from app.hotkeys import PTT_KEYS, GlobalKey
from app.main_window import MainWindow


class PushToTalkController(QObject):
    """``muted`` says whether push to talk silences the output now; ``changed`` fires when it may
    have changed (mode switched, key pressed or released, key replaced)."""

    changed = Signal()

    def __init__(
        self, window: MainWindow, settings: SettingsModel, dialogs: Dialogs, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.window, self.settings, self.dialogs = window, settings, dialogs
        self.held = False
        """the key or the Talk button is down"""
        self.global_key = GlobalKey(settings.current.ptt_key, parent=self)
        """push-to-talk while another app has focus (listening while push-to-talk is on)"""
        self.note = ""
        """why push-to-talk works only while the window has focus ("" when it works everywhere)"""
        self.global_key.held.connect(self.set_held)

    @property
    def enabled(self) -> bool:
        return self.settings.current.push_to_talk

    @property
    def key(self) -> str:
        return self.settings.current.ptt_key

    @property
    def muted(self) -> bool:
        """Push to talk is on and nothing holds the talk key."""
        return self.enabled and not self.held

    def set_enabled(self, on: bool) -> None:
        self.settings.commit(replace(self.settings.current, push_to_talk=on))
        self.sync_listener()
        self.changed.emit()

    def set_held(self, down: bool) -> None:
        self.held = down
        self.changed.emit()

    def set_key(self, name: str) -> None:
        """Use ``name`` (an ``app.hotkeys.PTT_KEYS`` name) as the push-to-talk key, here and globally."""
        self.global_key.set_key(name)  # raises ValueError for an unknown key, before anything changes
        self.settings.commit(replace(self.settings.current, ptt_key=name))
        self.set_held(False)  # a key held while switching must not leave the output open
        self.window.set_ptt_key(name)
        self.sync_listener()

    def choose_key(self) -> None:
        name = self.dialogs.choose_item(
            "Push-to-talk key",
            "Hold this key to talk (it works in other apps too, where the system allows it):",
            list(PTT_KEYS),
            self.key,
        )
        if name is not None:
            self.set_key(name)

    def sync_listener(self) -> None:
        """Listen to the key on the whole desktop while push-to-talk is on."""
        if not self.enabled:
            self.global_key.stop()
            return
        reason = self.global_key.start()
        self.note = "" if reason is None else reason
        where = "in any app" if reason is None else f"while this window has focus ({reason})"
        self.window.push_to_talk.setToolTip(
            f"Silent unless {self.key} or the Talk button is held; {self.key} works {where}"
        )

    def shutdown(self) -> None:
        self.global_key.stop()
