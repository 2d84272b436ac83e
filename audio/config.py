"""Engine dataclasses: the stream configuration, live parameters, latency and statistics.

All sample-rate, hop and latency arithmetic of the engine lives here, so the GUI, the CLI and the
tests agree on what a number means.

Latency model (see :class:`LatencyBreakdown`): a sample captured by the input device reaches the
output device after

``device_in + device_out``  what the host says its capture and playback paths take (on JACK: the
                            latency JACK computes along the connections our ports really have,
                            ``audio/jack_latency.py``; elsewhere PortAudio's ``stream.latency``);
``hop``                     one hop of buffering (the worker needs a full hop before it can run),
                            plus what a voice whose own hop differs needs in its FIFO;
``period``                  waiting for the host cycle that delivers a hop's last frame:
                            ``period - gcd(period, hop)`` in the worst case;
``processing``              the time the worker needs to turn a hop around after that cycle,
                            rounded up to whole periods (the output is taken out a period at once);
``margin``                  the user's safety margin on top;
``resampler``               group delay of the device-rate <-> voice-rate resamplers (0 if equal);
``voice``                   the voice's algorithmic latency (``Voice.latency``).

The output ring holds ``hop + period + processing + margin`` frames ahead of the reader
(:func:`plan_fill`, the *minimum safe pre-fill* plus the margin), so the engine's own added lag is
exactly the sum of the parts it controls. The period is the host's: it is known only once the
stream runs, may differ from what was asked and may change at any callback (PipeWire), so the
worker re-plans from the cycles the callback logs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from models.base import VoiceParams

LatePolicy = Literal["dry", "silence"]
LATE_POLICIES: tuple[LatePolicy, ...] = ("dry", "silence")
"""Every ``LatePolicy``, in the order menus list them."""
NoiseSuppression = Literal["off", "light", "strong"]
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
    hop: int = 0
    """Frames per worker step at the device rate; 0 (default) takes the voice's own hop at the device
    rate (no FIFO between them). Smaller is lower latency but needs a faster voice."""
    margin: int = 0
    """Safety margin in frames, added to the output ring's minimum safe pre-fill (which already
    covers the host's period, the hop and the voice's measured processing time): raise it on a
    machine that stalls threads for longer than that."""
    blocksize: int = 0
    """PortAudio callback block size; 0 (default) takes whatever the host delivers, which costs no
    extra buffering (a fixed size on JACK makes PortAudio add a block of latency to adapt)."""
    device_latency: float | Literal["low", "high"] = "low"
    """Latency hint passed to PortAudio for the device buffers."""
    noise_suppression: NoiseSuppression = "off"
    """Noise suppression before the gate and the voice (``audio/denoise.py``, RNNoise): "off",
    "light" or "strong". It adds ``LatencyBreakdown.denoise`` (20 ms, plus framing where the hop
    is not a multiple of 10 ms) to the plan."""
    exclusive: bool = False
    """WASAPI exclusive mode (Windows): the device is Voxshift's alone, with the shortest buffers and
    no system mixer in the path. Ignored on other host APIs."""
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
    """Run the voice only if its recent (median) step time times this factor fits before the deadline;
    the pre-fill plans for the same factor."""
    native_callback: bool = True
    """Use the C audio callback (``audio/native.py``) when it can be built; False forces the Python one."""
    wake: Literal["signal", "poll"] = "signal"
    """How the worker learns that a hop of input arrived: the callback signals it ("signal"), or it
    polls with short sleeps ("poll": kept to measure what signalling saves)."""

    def __post_init__(self) -> None:
        if self.samplerate is not None and not 8000 <= self.samplerate <= 384000:
            raise ValueError(f"samplerate must be within 8000..384000 Hz, got {self.samplerate}")
        if self.hop != 0 and not 16 <= self.hop <= 16384:
            raise ValueError(f"hop must be 0 (the voice's own) or within 16..16384 frames, got {self.hop}")
        if not 0 <= self.margin <= 65536:
            raise ValueError(f"margin must be within 0..65536 frames, got {self.margin}")
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
        if self.noise_suppression not in ("off", "light", "strong"):
            raise ValueError(
                f"noise_suppression must be off, light or strong, got {self.noise_suppression!r}"
            )
        if self.wake not in ("signal", "poll"):
            raise ValueError(f"wake must be 'signal' or 'poll', got {self.wake!r}")

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


WAKE_ALLOWANCE_S = 0.0005
"""Time the planner allows the worker thread to wake up after the callback signalled it."""


def min_safe_fill(period: int, hop: int, processing: float) -> int:
    """The smallest output pre-fill (frames) with which no callback ever finds the ring short.

    The host takes ``period`` frames out of the output ring and puts ``period`` frames into the
    input ring per cycle; the worker turns each complete ``hop`` of input into ``hop`` frames of
    output, ``processing`` frames of time after the cycle that completed it, hops queueing behind
    one another. Hop ``h`` is complete at cycle ``ceil((h + 1) * hop / period)``; its first output
    frame is taken out by the first cycle that starts at or after it is done. With ``processing``
    just above zero this is ``period + hop - gcd(period, hop)``; more processing adds whole periods.
    The pattern repeats every ``lcm(period, hop)`` frames; a few repetitions let a queue settle.
    A worker slower than real time (``processing >= hop``) builds a backlog no pre-fill can
    hold; it drops hops instead (``Worker``), so the plan stops at real time.
    """
    if period <= 0 or hop <= 0:
        raise ValueError("period and hop must be positive")
    d = min(max(float(processing), 1e-6), float(hop))
    hops = min(max(4 * math.lcm(period, hop) // hop, 64), 20000)
    h = np.arange(hops, dtype=np.float64)
    ready = np.ceil((h + 1) * hop / period) * period  # end of the cycle that completes hop h
    # done[h] = max(ready[h], done[h-1]) + d  ==  (h + 1) d + max_{k<=h} (ready[k] - k d)
    done = (h + 1) * d + np.maximum.accumulate(ready - h * d)
    need = (np.ceil(done / period) - 1) * period - h * hop
    return int(max(need.max(), 0))


def processing_frames(step_seconds: float, rate: int, late_margin: float) -> float:
    """Frames of time the worker needs per hop: the measured step time with the late margin, plus
    the allowance for its wake-up."""
    return (late_margin * max(step_seconds, 0.0) + WAKE_ALLOWANCE_S) * rate


@dataclass(frozen=True)
class FillPlan:
    """The output pre-fill for one host period and hop, with its parts (all in frames)."""

    period: int
    hop: int
    processing: float
    """Frames of time the worker needs to turn a hop around (see :func:`processing_frames`)."""
    margin: int
    fill: int
    """Frames the output ring holds ahead of the reader: ``hop + wait + extra + margin``."""
    wait: int
    """``period - gcd(period, hop)``: waiting for the cycle that completes a hop."""
    extra: int
    """Whole periods the processing time adds on top."""

    @property
    def minimum(self) -> int:
        """The minimum safe pre-fill (the fill without the user's margin)."""
        return self.fill - self.margin


def plan_fill(period: int, hop: int, processing: float, margin: int = 0) -> FillPlan:
    """The :class:`FillPlan` for a host ``period``, a worker ``hop`` and its ``processing`` time."""
    minimum = min_safe_fill(period, hop, processing)
    wait = period - math.gcd(period, hop)
    extra = max(0, minimum - hop - wait)
    return FillPlan(period, hop, processing, margin, minimum + margin, wait, extra)


LATENCY_PARTS = (
    "device_in",
    "device_out",
    "hop",
    "period",
    "processing",
    "margin",
    "denoise",
    "resampler",
    "voice",
)
"""The parts of :class:`LatencyBreakdown` in the order they are shown."""


@dataclass(frozen=True)
class LatencyBreakdown:
    """Where the latency goes, all in seconds. ``total`` is the sum of the parts (module docstring)."""

    device_in: float = 0.0
    device_out: float = 0.0
    hop: float = 0.0
    period: float = 0.0
    processing: float = 0.0
    margin: float = 0.0
    denoise: float = 0.0
    resampler: float = 0.0
    voice: float = 0.0
    total: float = 0.0

    @classmethod
    def build(
        cls,
        *,
        device_in: float,
        device_out: float,
        hop: float,
        resampler: float,
        voice: float,
        period: float = 0.0,
        processing: float = 0.0,
        margin: float = 0.0,
        denoise: float = 0.0,
    ) -> LatencyBreakdown:
        """A breakdown whose ``total`` is the sum of the given parts."""
        parts = (device_in, device_out, hop, period, processing, margin, denoise, resampler, voice)
        return cls(*parts, total=sum(parts))

    @property
    def engine(self) -> float:
        """What the engine adds on top of the device path (the part it controls)."""
        return self.total - self.device_in - self.device_out

    @property
    def buffering(self) -> float:
        """The output ring's pre-fill: hop + period + processing + margin."""
        return self.hop + self.period + self.processing + self.margin

    def describe(self) -> str:
        """One line in milliseconds, e.g. for the CLI."""
        body = ", ".join(f"{p} {getattr(self, p) * 1e3:.1f}" for p in LATENCY_PARTS)
        return f"{self.total * 1e3:.1f} ms ({body})"


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the running engine (cheap to take; the GUI polls it at ~30 Hz)."""

    running: bool = False
    error: str | None = None
    planned: LatencyBreakdown = field(default_factory=LatencyBreakdown)
    measured_latency: float | None = None
    """Seconds from capture to playback as measured: the host's report of its device path
    (``measured_source``) plus the engine's own lag from its ring counters; None where the host
    gives nothing trustworthy ("planned only")."""
    measured_source: str = ""
    """Where the device part of ``measured_latency`` came from: "jack" (JACK's latency of our
    ports' connections), "portaudio" (the callback's ADC/DAC timestamps) or "" (planned only)."""
    period: int = 0
    """The host period the engine plans for now: the largest recent cycle, in frames."""
    hop_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Recent per-hop processing times in seconds, oldest first."""
    hop_budget: float = 0.0
    """Seconds of audio one hop represents: processing must stay below it."""
    rtf: float = 0.0
    """Real-time factor: median hop processing time / hop_budget (below 1 keeps up)."""
    input_overflows: int = 0
    output_underflows: int = 0
    late_hops: int = 0
    replans: int = 0
    """Times the output pre-fill was re-planned while running (the host's period changed)."""
    period_gaps: int = 0
    """Of ``output_underflows``, those in a host cycle that grew past the planned period (the
    callback asked for more than any pre-fill planned for the old period holds)."""
    xruns: int = 0
    """Callbacks whose status flags reported an over- or underflow at the device."""
    input_level_db: float = -120.0
    output_level_db: float = -120.0
    hops: int = 0
    samplerate: int = 0
    voice_name: str = ""
