"""Settings survive a restart of the window; old stores are migrated; broken values fall back."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.settings import SETTINGS_VERSION, AppSettings, Key, VoiceSettings, load_settings, save_settings


def test_settings_survive_a_restart_of_the_window(open_window, qtbot):
    window, controller = open_window()
    qtbot.waitUntil(lambda: controller.voices.current is not None)
    assert window.voices.select("builtin:deeper")
    controller.voices.select("builtin:deeper")
    window.controls.pitch.slider.setValue(window.controls.pitch.slider.value() + 3)
    window.controls.gate.set_value(-42)
    window.controls.gate.value_changed.emit(-42.0)
    window.bypass.setChecked(True)
    window.push_to_talk.setChecked(True)
    pitch = window.controls.pitch.value()
    window.close()

    window2, controller2 = open_window()
    assert controller2.voices.current is not None and controller2.voices.current.id == "builtin:deeper"
    assert window2.voices.current_id() == "builtin:deeper"
    assert window2.controls.pitch.value() == pitch == 3.0
    assert window2.controls.gate.value() == -42.0
    assert window2.bypass.isChecked() and window2.push_to_talk.isChecked()
    # per-voice settings: another voice starts from its own (default) pitch
    controller2.voices.select("builtin:higher")
    assert window2.controls.pitch.value() == 0.0
    controller2.voices.select("builtin:deeper")
    assert window2.controls.pitch.value() == 3.0


def test_a_missing_saved_device_falls_back_to_the_default_with_a_note(open_window, settings_file):
    store = QSettings(str(settings_file), QSettings.Format.IniFormat)
    save_settings(store, AppSettings(input_device="Unplugged USB Mic|ALSA"))
    window, _ = open_window()
    if window.input_picker.choices():
        assert "Unplugged USB Mic" in window.device_note.text()
        assert window.input_picker.current_key() != "Unplugged USB Mic|ALSA"
    else:  # a machine without audio devices says so
        assert "No audio input" in window.device_note.text()


def test_migrate_from_version_1_and_tolerate_garbage(tmp_path):
    store = QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat)
    store.setValue(Key.VERSION.value, 1)
    store.setValue("device/input", "Old Mic|ALSA")
    store.setValue("audio/block", 960)
    store.setValue(Key.VOICE_PARAMS.value, '{"builtin:shift": {"pitch": 5, "bogus": 1, "f0_method": "nope"}}')
    store.setValue(Key.OUTPUT_GAIN_DB.value, "not a number")
    settings = load_settings(store)
    assert settings.input_device == "Old Mic|ALSA"
    assert settings.block_ms == 20.0
    assert settings.output_gain_db == 0.0
    assert settings.params_for("builtin:shift") == VoiceSettings(pitch=5.0)
    assert int(store.value(Key.VERSION.value)) == SETTINGS_VERSION
    assert not store.contains("device/input")


@pytest.mark.jack
def test_late_policy_is_chosen_in_the_window_reaches_the_engine_and_survives_a_restart(
    jack_server, open_window, qtbot
):
    jack_server(48000, 256)  # real devices, so the window builds an engine configuration
    window, controller = open_window()
    combo = window.controls.late_policy
    assert combo.currentData() == "dry"  # the default: a skipped block plays the dry input
    assert controller.engine.config.late_policy == "dry"
    combo.setCurrentIndex(combo.findData("silence"))
    qtbot.waitUntil(
        lambda: controller.settings.current.late_policy == "silence", timeout=5000
    )  # after edits settle
    assert controller.engine.config.late_policy == "silence"  # handed to the engine
    window.close()
    window2, controller2 = open_window()
    assert window2.controls.late_policy.currentData() == "silence"
    assert controller2.engine.config.late_policy == "silence"


def test_an_unknown_late_policy_or_talk_key_in_the_store_keeps_the_default(tmp_path):
    store = QSettings(str(tmp_path / "edited.ini"), QSettings.Format.IniFormat)
    save_settings(store, AppSettings(block_ms=20.0))
    store.setValue(Key.LATE_POLICY.value, "loud")
    store.setValue(Key.PTT_KEY.value, "Space")
    settings = load_settings(store)
    assert settings.late_policy == "dry" and settings.block_ms == 20.0
    assert settings.ptt_key == "F9"
