"""Engine dataclasses: the stream configuration, live parameters, latency and statistics.

All sample-rate, hop and latency arithmetic of the engine lives here, so the GUI, the CLI and the
tests agree on what a number means.

Latency model (see :class:`LatencyBreakdown`): a sample captured by the input device reaches the
output device after

``device_in + device_out``  what PortAudio reports for the stream (``stream.latency``);
``hop``                     one hop of buffering (the worker needs a full hop before it can run);
``prefill``                 the extra safety margin the output ring starts with;
``resampler``               group delay of the device-rate <-> voice-rate resamplers (0 if equal);
``voice``                   the voice's algorithmic latency (``Voice.latency``).

The output ring is pre-filled with ``hop + prefill`` frames (plus whatever a mismatch between the
device hop and the voice hop needs, which is added to ``hop``), so the engine's own added lag is
exactly ``hop + prefill + resampler + voice`` on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from models.base import VoiceParams

LatePolicy = Literal["dry", "silence"]
LATE_POLICIES: tuple[LatePolicy, ...] = ("dry", "silence")
"""Every ``LatePolicy``, in the order menus list them."""
DeviceSpec = int | str | None


@dataclass(frozen=True)
class EngineConfig:
    """How the engine opens its streams. Immutable: ``Engine.restart(config)`` applies a new one."""

    input_device: DeviceSpec = None
    """Capture device: PortAudio index, (part of a) name, or None for the default."""
    output_device: DeviceSpec = None
    """Playback device (e.g. a virtual cable): index, name, or None for the default."""
    monitor_device: DeviceSpec = None
    """Optional second playback device (headphones) fed with the same converted signal."""
    samplerate: int | None = None
    """Device rate in Hz; None takes the input device's default rate."""
    hop: int = 256
    """Frames per worker step at the device rate. Smaller is lower latency but needs a faster voice."""
    prefill: int = 256
    """Extra frames the output ring starts with on top of one hop: the margin for scheduling jitter."""
    blocksize: int = 0
    """PortAudio callback block size; 0 lets the host choose (JACK always uses its period)."""
    device_latency: float | Literal["low", "high"] = "low"
    """Latency hint passed to PortAudio for the device buffers."""
    late_policy: LatePolicy = "dry"
    """What a hop dropped because the voice is too slow sounds like: the dry input or silence."""
    crossfade_ms: float = 2.5
    """Length of crossfades at voice swaps, dropped hops and bypass changes (at most one hop)."""
    ring_seconds: float = 2.0
    """Capacity of the sample rings (worst-case stall the engine absorbs without losing sync)."""
    watchdog_s: float = 1.0
    """If the device delivers no audio for this long while running, the engine stops with an error."""
    worker_priority: int = 2
    """Real-time (SCHED_FIFO) priority asked for the worker thread where allowed; 0 keeps it normal.
    Kept below the audio server's threads (JACK clients run at 5 by default) so it never delays a
    callback; the worker sleeps every hop, and Linux caps real-time threads at 95% of a CPU."""
    late_margin: float = 1.2
    """Run the voice only if its recent (median) step time times this factor fits before the deadline."""
    native_callback: bool = True
    """Use the C audio callback (``audio/native.py``) when it can be built; False forces the Python one."""

    def __post_init__(self) -> None:
        if self.samplerate is not None and not 8000 <= self.samplerate <= 384000:
            raise ValueError(f"samplerate must be within 8000..384000 Hz, got {self.samplerate}")
        if not 16 <= self.hop <= 16384:
            raise ValueError(f"hop must be within 16..16384 frames, got {self.hop}")
        if not 0 <= self.prefill <= 65536:
            raise ValueError(f"prefill must be within 0..65536 frames, got {self.prefill}")
        if self.blocksize < 0:
            raise ValueError(f"blocksize must be >= 0, got {self.blocksize}")
        if self.late_policy not in LATE_POLICIES:
            raise ValueError(f"late_policy must be 'dry' or 'silence', got {self.late_policy!r}")
        if not 0.0 <= self.crossfade_ms <= 50.0:
            raise ValueError(f"crossfade_ms must be within 0..50, got {self.crossfade_ms}")
        if not 0.1 <= self.ring_seconds <= 30.0:
            raise ValueError(f"ring_seconds must be within 0.1..30, got {self.ring_seconds}")
        if not 0 <= self.worker_priority <= 90:
            raise ValueError(f"worker_priority must be within 0..90, got {self.worker_priority}")
        if self.watchdog_s <= 0 or self.late_margin <= 0:
            raise ValueError("watchdog_s and late_margin must be positive")

    def crossfade_frames(self, rate: int, hop: int) -> int:
        """Crossfade length in frames at ``rate``, never longer than one ``hop``."""
        return max(1, min(hop, round(self.crossfade_ms * 1e-3 * rate)))


@dataclass(frozen=True)
class LiveParams:
    """Parameters that change while the stream runs (one reference swap, read once per hop)."""

    voice: VoiceParams = field(default_factory=VoiceParams)
    input_gain_db: float = 0.0
    output_gain_db: float = 0.0
    monitor_gain_db: float = 0.0
    gate_db: float = -120.0
    """Noise gate: hops whose input RMS is below this level (dBFS) are muted before the voice."""
    bypass: bool = False
    """Send the input straight to the output (crossfaded), skipping the voice."""

    def __post_init__(self) -> None:
        for name in ("input_gain_db", "output_gain_db", "monitor_gain_db"):
            value = getattr(self, name)
            if not -96.0 <= value <= 36.0:
                raise ValueError(f"{name} must be within -96..36 dB, got {value}")
        if not -120.0 <= self.gate_db <= 0.0:
            raise ValueError(f"gate_db must be within -120..0 dBFS, got {self.gate_db}")


def db_to_gain(db: float) -> float:
    """Amplitude factor for a level change in dB."""
    return float(10.0 ** (db / 20.0))


def level_db(x: np.ndarray) -> float:
    """RMS level of ``x`` in dBFS, floored at -120."""
    if x.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return max(-120.0, 20.0 * float(np.log10(rms + 1e-12)))


@dataclass(frozen=True)
class LatencyBreakdown:
    """Where the latency goes, all in seconds. ``total`` is the sum of the parts."""

    device_in: float = 0.0
    device_out: float = 0.0
    prefill: float = 0.0
    hop: float = 0.0
    resampler: float = 0.0
    voice: float = 0.0
    total: float = 0.0

    @classmethod
    def build(
        cls,
        *,
        device_in: float,
        device_out: float,
        prefill: float,
        hop: float,
        resampler: float,
        voice: float,
    ) -> LatencyBreakdown:
        """A breakdown whose ``total`` is the sum of the given parts."""
        total = device_in + device_out + prefill + hop + resampler + voice
        return cls(device_in, device_out, prefill, hop, resampler, voice, total)

    @property
    def engine(self) -> float:
        """What the engine adds on top of the device path (the part it controls)."""
        return self.prefill + self.hop + self.resampler + self.voice

    def describe(self) -> str:
        """One line in milliseconds, e.g. for the CLI."""
        parts = ("device_in", "device_out", "hop", "prefill", "resampler", "voice")
        body = ", ".join(f"{p} {getattr(self, p) * 1e3:.1f}" for p in parts)
        return f"{self.total * 1e3:.1f} ms ({body})"


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the running engine (cheap to take; the GUI polls it at ~30 Hz)."""

    running: bool = False
    error: str | None = None
    planned: LatencyBreakdown = field(default_factory=LatencyBreakdown)
    measured_latency: float | None = None
    """Seconds from capture to playback, from PortAudio's stream timestamps and sample counters."""
    hop_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Recent per-hop processing times in seconds, oldest first."""
    hop_budget: float = 0.0
    """Seconds of audio one hop represents: processing must stay below it."""
    rtf: float = 0.0
    """Real-time factor: median hop processing time / hop_budget (below 1 keeps up)."""
    input_overflows: int = 0
    output_underflows: int = 0
    late_hops: int = 0
    xruns: int = 0
    """Callbacks whose status flags reported an over- or underflow at the device."""
    input_level_db: float = -120.0
    output_level_db: float = -120.0
    hops: int = 0
    samplerate: int = 0
    voice_name: str = ""
