"""Enumerate and validate audio devices and host APIs (PortAudio through sounddevice).

``find_device`` turns what a user typed (an index, a name or part of one, or nothing for the
default) into a :class:`DeviceInfo`; ``check_config`` asks PortAudio whether a configuration can be
opened before the engine tries, and turns PortAudio's terse errors ("Invalid sample rate") into a
:class:`DeviceError` that says what is wrong and what the device supports.
"""

from __future__ import annotations

import atexit
import difflib
from dataclasses import dataclass
from typing import Any, Literal

import sounddevice as sd

from models.errors import VoxshiftError

Kind = Literal["input", "output"]
COMMON_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 40000, 44100, 48000, 88200, 96000, 192000)


class DeviceError(VoxshiftError):
    """A device is missing, unplugged, or cannot run the requested configuration."""


@dataclass(frozen=True)
class HostApiInfo:
    """One PortAudio host API (ALSA, JACK, WASAPI, Core Audio, ...)."""

    index: int
    name: str
    devices: tuple[int, ...]
    default_input_device: int
    default_output_device: int


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device. Latencies are PortAudio's defaults in seconds."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    default_low_input_latency: float
    default_low_output_latency: float
    default_high_input_latency: float
    default_high_output_latency: float

    @property
    def label(self) -> str:
        """``"name (host API)"``: what lists and messages show."""
        return f"{self.name} ({self.hostapi})"

    def channels(self, kind: Kind) -> int:
        return self.max_input_channels if kind == "input" else self.max_output_channels


_backend_lost = False


def mark_backend_lost() -> None:
    """Remember that an audio server died under an open PortAudio session.

    PortAudio's JACK host API asserts (aborting the process) when it is terminated after its
    server vanished; so from now on we never terminate it: ``refresh`` refuses and the exit
    handler skips PortAudio's own clean-up (the process is ending anyway).
    """
    global _backend_lost
    _backend_lost = True


@atexit.register
def _skip_terminate_if_lost() -> None:
    # Registered after sounddevice's handler, so it runs first (atexit is last-in, first-out).
    if _backend_lost:
        sd._initialized = 0


def release() -> None:
    """Shut PortAudio down (closing every stream) while its audio servers are still alive."""
    if _backend_lost:
        return
    while sd._initialized > 0:
        sd._terminate()


def refresh() -> None:
    """Re-scan devices (PortAudio only sees devices present at initialization).

    Call it only while no stream is open, e.g. after plugging in a headset or starting a JACK server.
    """
    if _backend_lost:
        raise DeviceError("The audio server stopped while Voxshift used it; restart Voxshift to use audio.")
    release()
    sd._initialize()


def list_hostapis() -> list[HostApiInfo]:
    """All host APIs PortAudio was built with, in PortAudio's order."""
    return [
        HostApiInfo(
            index=i,
            name=str(h["name"]),
            devices=tuple(int(d) for d in h["devices"]),
            default_input_device=int(h["default_input_device"]),
            default_output_device=int(h["default_output_device"]),
        )
        for i, h in enumerate(sd.query_hostapis())
    ]


def _device_info(index: int, raw: Any, hostapis: list[HostApiInfo]) -> DeviceInfo:
    return DeviceInfo(
        index=index,
        name=str(raw["name"]),
        hostapi=hostapis[int(raw["hostapi"])].name,
        max_input_channels=int(raw["max_input_channels"]),
        max_output_channels=int(raw["max_output_channels"]),
        default_samplerate=float(raw["default_samplerate"]),
        default_low_input_latency=float(raw["default_low_input_latency"]),
        default_low_output_latency=float(raw["default_low_output_latency"]),
        default_high_input_latency=float(raw["default_high_input_latency"]),
        default_high_output_latency=float(raw["default_high_output_latency"]),
    )


def list_devices(kind: Kind | None = None) -> list[DeviceInfo]:
    """All devices, or only those with ``kind`` ("input"/"output") channels."""
    hostapis = list_hostapis()
    devices = [_device_info(i, d, hostapis) for i, d in enumerate(sd.query_devices())]
    return [d for d in devices if kind is None or d.channels(kind) > 0]


def default_device(kind: Kind) -> DeviceInfo:
    """The system default device for ``kind``; DeviceError when there is none."""
    index = sd.default.device[0 if kind == "input" else 1]
    if index is None or int(index) < 0:
        available = list_devices(kind)
        if not available:
            raise DeviceError(f"No {kind} device found: connect one (or start your audio server) and retry.")
        return available[0]
    return _by_index(int(index), kind)


def _by_index(index: int, kind: Kind) -> DeviceInfo:
    devices = list_devices()
    if not 0 <= index < len(devices):
        raise DeviceError(
            f"There is no audio device {index} (there are {len(devices)}); "
            "run 'voxshift devices' to list them."
        )
    device = devices[index]
    if device.channels(kind) == 0:
        raise DeviceError(
            f"Device {index} '{device.label}' has no {kind} channels; choose one of: {_names(kind)}."
        )
    return device


def _names(kind: Kind) -> str:
    devices = list_devices(kind)
    return ", ".join(f"{d.index} '{d.label}'" for d in devices) or f"(no {kind} devices)"


def find_device(spec: int | str | None, kind: Kind) -> DeviceInfo:
    """Resolve an index, a (partial, case-insensitive) name, or None (the default) to a device.

    An unknown name raises DeviceError listing the closest names; an ambiguous part of a name
    lists the candidates.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return default_device(kind)
    if isinstance(spec, int) or spec.strip().isdigit():
        return _by_index(int(spec), kind)
    wanted = spec.strip().lower()
    candidates = list_devices(kind)
    for match in (
        lambda d: d.name.lower() == wanted or d.label.lower() == wanted,
        lambda d: wanted in d.label.lower(),
    ):
        found = [d for d in candidates if match(d)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{d.index} '{d.label}'" for d in found)
            raise DeviceError(f"'{spec}' matches several {kind} devices: {names}; give the index.")
    labels = [d.label for d in candidates] + [d.name for d in candidates]
    close = difflib.get_close_matches(spec, labels, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    raise DeviceError(f"No {kind} device named '{spec}'; {hint}available: {_names(kind)}.")


def supported_rates(device: DeviceInfo, kind: Kind, channels: int = 1) -> list[int]:
    """Which of the common sample rates PortAudio accepts for ``device``."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    rates = []
    for rate in COMMON_RATES:
        try:
            check(device=device.index, channels=channels, samplerate=rate, dtype="float32")
        except sd.PortAudioError:
            continue
        rates.append(rate)
    return rates


def _check_one(device: DeviceInfo, kind: Kind, samplerate: int, channels: int) -> None:
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device.index, channels=channels, samplerate=samplerate, dtype="float32")
    except sd.PortAudioError as exc:
        text = str(exc)
        if "sample rate" in text.lower():
            rates = supported_rates(device, kind, min(channels, max(1, device.channels(kind))))
            listed = ", ".join(str(r) for r in rates) or "none of the common rates"
            raise DeviceError(
                f"The {kind} device '{device.label}' does not support {samplerate} Hz; "
                f"it supports {listed} (default {device.default_samplerate:.0f} Hz)."
            ) from exc
        if "channels" in text.lower():
            raise DeviceError(
                f"The {kind} device '{device.label}' cannot open {channels} channel(s); "
                f"it has {device.channels(kind)}."
            ) from exc
        raise DeviceError(f"The {kind} device '{device.label}' cannot be used: {text}.") from exc


def check_config(
    input_device: int | str | None,
    output_device: int | str | None,
    samplerate: int | None = None,
    *,
    channels: int = 1,
    monitor_device: int | str | None = None,
) -> tuple[DeviceInfo, DeviceInfo, DeviceInfo | None, int]:
    """Resolve and validate devices; returns ``(input, output, monitor, samplerate)``.

    ``samplerate=None`` takes the input device's default rate. Raises DeviceError in plain words.
    """
    din = find_device(input_device, "input")
    dout = find_device(output_device, "output")
    dmon = find_device(monitor_device, "output") if monitor_device is not None else None
    rate = int(samplerate or round(din.default_samplerate))
    _check_one(din, "input", rate, channels)
    _check_one(dout, "output", rate, channels)
    if dmon is not None:
        _check_one(dmon, "output", rate, channels)
    return din, dout, dmon, rate
