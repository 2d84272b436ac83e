"""Push-to-talk from any app: the global key listener, and how the window uses it."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from app.controllers.live import MUTE_DB
from tests.app.conftest import run_module


@pytest.mark.parametrize("key", ["F9", "V"])
def test_the_key_is_seen_while_another_x_client_has_the_focus(xvfb: str, key: str) -> None:
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="offscreen")
    stdout = run_module("tests.app.global_key_child", key, env=env, timeout=60)
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["focused"]  # the other window had the keyboard focus
    assert result["during"] == [True]  # held while the key is down...
    assert result["after"] == [True, False]  # ...and released once; F4 before it did nothing
    assert result["game_got_key"]  # observed, not grabbed: the focused app still gets the key


def test_without_a_display_push_to_talk_says_it_needs_the_window_focus(open_window, monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    window, controller = open_window()
    window.push_to_talk.setChecked(True)
    assert not controller.ptt.global_key.active
    assert "no X display" in controller.ptt.note
    assert "while this window has focus" in window.push_to_talk.toolTip()
    assert controller.live.live_params().output_gain_db == MUTE_DB  # push-to-talk on, key up: muted


def test_the_global_key_drives_push_to_talk(open_window, qtbot) -> None:
    window, controller = open_window()
    window.push_to_talk.setChecked(True)
    assert controller.live.live_params().output_gain_db == MUTE_DB
    controller.ptt.global_key.held.emit(True)  # what the listener thread emits on F9 down
    assert controller.live.live_params().output_gain_db == controller.settings.current.output_gain_db
    controller.ptt.global_key.held.emit(False)
    assert controller.live.live_params().output_gain_db == MUTE_DB
    window.push_to_talk.setChecked(False)
    assert not controller.ptt.global_key.active


def _key(window, kind: QEvent.Type, key: Qt.Key) -> None:
    event = QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier)
    if kind == QEvent.Type.KeyPress:
        window.keyPressEvent(event)
    else:
        window.keyReleaseEvent(event)


def test_the_push_to_talk_key_can_be_changed_and_is_remembered(open_window) -> None:
    window, controller = open_window()
    window.push_to_talk.setChecked(True)
    held: list[bool] = []
    window.talk_held.connect(held.append)
    controller.ptt.set_key("F10")
    assert window.talk.text() == "Talk (F10)" and "F10" in window.push_to_talk.toolTip()
    assert controller.ptt.global_key.key_name == "F10"
    _key(window, QEvent.Type.KeyPress, Qt.Key.Key_F9)  # the old key does nothing now
    assert held == []
    _key(window, QEvent.Type.KeyPress, Qt.Key.Key_F10)
    assert held == [True] and controller.live.live_params().output_gain_db != MUTE_DB
    _key(window, QEvent.Type.KeyRelease, Qt.Key.Key_F10)
    assert held == [True, False] and controller.live.live_params().output_gain_db == MUTE_DB
    with pytest.raises(ValueError):
        controller.ptt.set_key("Space")  # Space toggles the stream
    window.close()
    window2, controller2 = open_window()
    assert controller2.settings.current.ptt_key == "F10" and window2.talk.text() == "Talk (F10)"
    assert controller2.ptt.global_key.key_name == "F10"
