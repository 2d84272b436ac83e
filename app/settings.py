"""Settings: QSettings <-> a typed, frozen dataclass, with one key enum and a versioned migrate().

Devices are remembered by name and host API (PortAudio indexes change when devices come and go).
Per-voice settings (pitch, formant, ...) are stored as one JSON object keyed by voice id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from typing import Any

from PySide6.QtCore import QSettings

from app import paths
from app.hotkeys import DEFAULT_KEY, PTT_KEYS
from audio.config import LATE_POLICIES, LatePolicy
from models.base import F0_METHODS

log = logging.getLogger(__name__)

SETTINGS_VERSION = 2


class Key(str, Enum):
    """Every QSettings key the app uses (one place, so renames go through migrate())."""

    VERSION = "meta/version"
    INPUT_DEVICE = "audio/input_device"
    OUTPUT_DEVICE = "audio/output_device"
    MONITOR_DEVICE = "audio/monitor_device"
    MONITOR_ENABLED = "audio/monitor_enabled"
    BLOCK_MS = "audio/block_ms"
    MARGIN_MS = "audio/margin_ms"
    CROSSFADE_MS = "audio/crossfade_ms"
    EXTRA_MS = "audio/extra_ms"
    LATE_POLICY = "audio/late_policy"
    INPUT_GAIN_DB = "live/input_gain_db"
    OUTPUT_GAIN_DB = "live/output_gain_db"
    MONITOR_GAIN_DB = "live/monitor_gain_db"
    GATE_DB = "live/gate_db"
    BYPASS = "live/bypass"
    PUSH_TO_TALK = "live/push_to_talk"
    PTT_KEY = "live/ptt_key"
    VOICE = "voice/current"
    VOICE_PARAMS = "voice/params_json"
    COMPUTE_DEVICE = "compute/device"
    OUTPUT_DIR = "convert/output_dir"
    GEOMETRY = "window/geometry"


@dataclass(frozen=True)
class VoiceSettings:
    """What is remembered per voice."""

    pitch: float = 0.0
    formant: float = 0.0
    index_rate: float = 0.75
    protect: float = 0.33
    f0_method: str = "rmvpe"

    def __post_init__(self) -> None:
        if self.f0_method not in F0_METHODS:
            raise ValueError(f"unknown f0 method {self.f0_method!r}")

    @classmethod
    def from_json(cls, data: Any) -> VoiceSettings:
        """Tolerant loader: unknown keys and wrong types are dropped (settings files get edited)."""
        if not isinstance(data, dict):
            return cls()
        known = {f.name: f for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name not in known:
                continue
            if name == "f0_method":
                if isinstance(value, str) and value in F0_METHODS:
                    kwargs[name] = value
            elif isinstance(value, int | float) and not isinstance(value, bool):
                kwargs[name] = float(value)
        return cls(**kwargs)


@dataclass(frozen=True)
class AppSettings:
    """Everything the app restores at start. Device fields are "name|host API" or None (default)."""

    input_device: str | None = None
    output_device: str | None = None
    monitor_device: str | None = None
    monitor_enabled: bool = False
    block_ms: float = 10.0
    """Hop length: shorter is lower latency, longer gives heavy voices more time per hop."""
    crossfade_ms: float = 5.0
    """SOLA crossfade of chunked voices (RVC)."""
    extra_ms: float = 100.0
    """Extra left context a chunked voice sees per hop (RVC): quality against compute."""
    late_policy: LatePolicy = "dry"
    """What a hop the voice cannot finish in time plays: "dry" (your real voice) or "silence"."""
    margin_ms: float = 0.0
    """Safety margin on top of the engine's minimum safe buffering (raise it if a busy machine clicks)."""
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    monitor_gain_db: float = 0.0
    gate_db: float = -60.0
    bypass: bool = False
    push_to_talk: bool = False
    ptt_key: str = DEFAULT_KEY
    """The push-to-talk key (an ``app.hotkeys.PTT_KEYS`` name)."""
    voice: str = "builtin:passthrough"
    compute_device: str = "cpu"
    output_dir: str = ""
    voice_params: dict[str, VoiceSettings] = field(default_factory=dict)
    geometry: bytes = b""

    def params_for(self, voice_id: str) -> VoiceSettings:
        return self.voice_params.get(voice_id, VoiceSettings())

    def with_params(self, voice_id: str, params: VoiceSettings) -> AppSettings:
        merged = dict(self.voice_params)
        merged[voice_id] = params
        return replace(self, voice_params=merged)


_FIELD_KEYS: dict[str, Key] = {
    "input_device": Key.INPUT_DEVICE,
    "output_device": Key.OUTPUT_DEVICE,
    "monitor_device": Key.MONITOR_DEVICE,
    "monitor_enabled": Key.MONITOR_ENABLED,
    "block_ms": Key.BLOCK_MS,
    "crossfade_ms": Key.CROSSFADE_MS,
    "extra_ms": Key.EXTRA_MS,
    "late_policy": Key.LATE_POLICY,
    "margin_ms": Key.MARGIN_MS,
    "input_gain_db": Key.INPUT_GAIN_DB,
    "output_gain_db": Key.OUTPUT_GAIN_DB,
    "monitor_gain_db": Key.MONITOR_GAIN_DB,
    "gate_db": Key.GATE_DB,
    "bypass": Key.BYPASS,
    "push_to_talk": Key.PUSH_TO_TALK,
    "ptt_key": Key.PTT_KEY,
    "voice": Key.VOICE,
    "compute_device": Key.COMPUTE_DEVICE,
    "output_dir": Key.OUTPUT_DIR,
}


def open_settings() -> QSettings:
    """The app's QSettings store (INI format everywhere, so it is readable and testable)."""
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, paths.ORGANIZATION, paths.APPLICATION
    )


def migrate(store: QSettings) -> None:
    """Bring a store written by an older version up to SETTINGS_VERSION, in place.

    v1 (first preview) kept devices under ``device/input``/``device/output`` and the block size
    in samples at 48 kHz under ``audio/block``; v2 uses names under ``audio/`` and milliseconds.
    A store from a newer version is left alone (its unknown keys are ignored on load).
    """
    version = _to_int(store.value(Key.VERSION.value), 0)
    if version == 0 and not store.allKeys():
        version = SETTINGS_VERSION  # a fresh store: nothing to migrate
    if version < 2:
        for old, new in (("device/input", Key.INPUT_DEVICE), ("device/output", Key.OUTPUT_DEVICE)):
            if store.contains(old):
                store.setValue(new.value, store.value(old))
                store.remove(old)
        if store.contains("audio/block"):
            samples = _to_float(store.value("audio/block"), 480.0)
            store.setValue(Key.BLOCK_MS.value, round(samples / 48.0, 3))
            store.remove("audio/block")
        log.info("settings migrated from version %d to %d", version, SETTINGS_VERSION)
    if version < SETTINGS_VERSION:
        store.setValue(Key.VERSION.value, SETTINGS_VERSION)


def load_settings(store: QSettings) -> AppSettings:
    """Read (after migrating) every field; a missing or malformed value keeps its default."""
    migrate(store)
    defaults = AppSettings()
    values: dict[str, Any] = {}
    for name, key in _FIELD_KEYS.items():
        raw = store.value(key.value)
        if raw is None:
            continue
        values[name] = _coerce(raw, getattr(defaults, name), optional=name.endswith("_device"))
    if values.get("late_policy") not in (None, *LATE_POLICIES):
        del values["late_policy"]  # an edited or newer store: keep the default
    if values.get("ptt_key") not in (None, *PTT_KEYS):
        del values["ptt_key"]
    params_raw = store.value(Key.VOICE_PARAMS.value)
    if isinstance(params_raw, str) and params_raw:
        try:
            decoded = json.loads(params_raw)
        except json.JSONDecodeError:
            decoded = {}
        if isinstance(decoded, dict):
            values["voice_params"] = {str(k): VoiceSettings.from_json(v) for k, v in decoded.items()}
    geometry = store.value(Key.GEOMETRY.value)
    if isinstance(geometry, bytes | bytearray):
        values["geometry"] = bytes(geometry)
    elif geometry is not None and hasattr(geometry, "data"):
        values["geometry"] = bytes(geometry.data())
    try:
        return replace(defaults, **values)
    except ValueError as err:  # a hand-edited store with an impossible value
        log.warning("settings ignored (%s); using defaults", err)
        return defaults


def save_settings(store: QSettings, settings: AppSettings) -> None:
    """Write every field (None device names are stored as empty strings)."""
    store.setValue(Key.VERSION.value, SETTINGS_VERSION)
    for name, key in _FIELD_KEYS.items():
        value = getattr(settings, name)
        store.setValue(key.value, "" if value is None else value)
    params = {k: asdict(v) for k, v in settings.voice_params.items()}
    store.setValue(Key.VOICE_PARAMS.value, json.dumps(params, sort_keys=True))
    store.setValue(Key.GEOMETRY.value, settings.geometry)
    store.sync()


def _coerce(raw: Any, default: Any, *, optional: bool) -> Any:
    """QSettings INI returns strings; turn them back into the default's type."""
    if optional:
        return str(raw) if raw not in ("", None) else None
    if isinstance(default, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
    if isinstance(default, float):
        return _to_float(raw, default)
    if isinstance(default, int):
        return _to_int(raw, default)
    return str(raw)


def _to_float(raw: Any, default: float) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return default


def _to_int(raw: Any, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default
