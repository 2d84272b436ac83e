"""Push-to-talk from any app: the global key listener, and how the window uses it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.controller import MUTE_DB

ROOT = Path(__file__).resolve().parents[2]


def test_f9_is_seen_while_another_x_client_has_the_focus(xvfb: str) -> None:
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.app.global_key_child"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["focused"]  # the other window had the keyboard focus
    assert result["during"] == [True]  # held while the key is down...
    assert result["after"] == [True, False]  # ...and released once, no repeats
    assert result["game_got_key"]  # observed, not grabbed: the focused app still gets F9


def test_without_a_display_push_to_talk_says_it_needs_the_window_focus(open_window, monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    window, controller = open_window()
    window.push_to_talk.setChecked(True)
    assert not controller.global_ptt.active
    assert "no X display" in controller.global_ptt_note
    assert "while this window has focus" in window.push_to_talk.toolTip()
    assert controller.live_params().output_gain_db == MUTE_DB  # push-to-talk on, key up: muted


def test_the_global_key_drives_push_to_talk(open_window, qtbot) -> None:
    window, controller = open_window()
    window.push_to_talk.setChecked(True)
    assert controller.live_params().output_gain_db == MUTE_DB
    controller.global_ptt.held.emit(True)  # what the listener thread emits on F9 down
    assert controller.live_params().output_gain_db == controller.settings.output_gain_db
    controller.global_ptt.held.emit(False)
    assert controller.live_params().output_gain_db == MUTE_DB
    window.push_to_talk.setChecked(False)
    assert not controller.global_ptt.active
