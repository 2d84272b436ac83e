"""The processing side: read one hop -> resample -> voice.step -> resample back -> write one hop.

:class:`VoicePipeline` wraps one voice with its two resamplers and two small FIFOs so that any
device hop works with any voice hop and rate. Its lag is fixed and known in advance: the output
FIFO starts with exactly as many zeros as the sample counts require (computed by
:func:`fifo_prefill`), so the pipeline's output is its input delayed by ``lag`` device frames.

:class:`Worker` is the thread loop. Each hop it reads the live parameters once, decides whether
there is time to run the voice (a voice slower than real time would otherwise build a backlog),
runs it or drops the hop (dry input or silence, ``late_policy``), crossfades at every change of
source, and writes one hop to the output ring (and the monitor ring). Because every hop writes one
hop, and the output ring keeps its timeline on underruns, the lag never drifts.

The worker sleeps until the callback signals a hop of input (``EngineConfig.wake``). It keeps the
output ring's pre-fill at the plan for the host's current period (``audio.config.plan_fill``):
when the host's cycles grow (PipeWire changing its quantum, ``jack_bufsize``) it inserts the
missing frames at once, as a continuation of its concealment tail, and fades back in; when they
shrink it takes the surplus out a little per hop by playing hops up to 4 % faster (up to twice
as fast in silence). After every hop
it leaves a short fade-out past its write position (``RingBuffer.write_tail``): an underflow plays
that instead of a hard cut, and the audio fades back in where the worker catches up.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from audio.config import (
    EngineConfig,
    FillPlan,
    LiveParams,
    db_to_gain,
    level_db,
    plan_fill,
    processing_frames,
)
from audio.ringbuffer import RingBuffer
from audio.stream import AnyDuplexIO, AnyMonitorIO
from dsp.gate import NoiseGate
from dsp.resample import StreamResampler
from dsp.sola import crossfade, equal_gain_fade, equal_power_fade
from models.base import Voice

Mode = Literal["wet", "dry", "silence"]
HISTORY = 512  # per-hop processing times kept for stats
MONITOR_TOLERANCE = 24  # frames the monitor may run off the main output before it is re-aligned
PROBE_EVERY = 8  # after this many dropped hops in a row, run the voice once to re-measure it
SHRINK_PER_HOP = 0.04  # share of a hop a too-large pre-fill shrinks by per hop (played 4 % faster)
SHRINK_IN_SILENCE = 0.5  # ... and in a hop nobody can hear (below SILENCE_DB)
SILENCE_DB = -60.0
CONCEAL_S = 0.010  # length of the fade-out an underflow plays instead of silence
WAIT_SLICE_S = 0.05  # longest single wait for the callback's signal (the watchdog checks between)


def fifo_prefill(dev_rate: int, dev_hop: int, voice: Voice, hops: int = 20000) -> int:
    """Zeros the output FIFO needs so that every device hop can take ``dev_hop`` frames out.

    Simulates the exact sample counts of the two resamplers and the voice's hop over ``hops``
    device hops (the pattern repeats long before that) and returns the worst deficit.
    """
    r_in = StreamResampler(dev_rate, voice.sample_rate)
    r_out = StreamResampler(voice.sample_rate, dev_rate)
    k = np.arange(1, hops + 1, dtype=np.int64)
    voice_in = -((-k * dev_hop * r_in.up) // r_in.down)
    voice_out = (voice_in // voice.hop) * voice.hop
    dev_out = -((-voice_out * r_out.up) // r_out.down)
    return int(max(0, np.max(k * dev_hop - dev_out)))


def _torch_inference_mode() -> Any:
    """``torch.inference_mode()`` if torch is already loaded (a voice uses it), else a no-op."""
    torch = sys.modules.get("torch")
    return torch.inference_mode() if torch is not None else contextlib.nullcontext()


def _try_realtime(priority: int) -> bool:
    """Ask for SCHED_FIFO on the calling thread (Linux; needs rtprio rights). False if refused.

    With SCHED_RESET_ON_FORK, threads this one starts (torch's intra-op pool, for instance) are
    normal threads again: only the hop loop itself is real-time, never a whole core's worth of math.
    """
    setter = getattr(os, "sched_setscheduler", None)
    if priority <= 0 or setter is None:
        return False
    policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
    try:
        setter(0, policy, os.sched_param(priority))
    except OSError:  # no permission (no rtprio limit): stay a normal thread
        return False
    return True


class VoicePipeline:
    """One voice between device-rate hops: resample in, step per voice hop, resample out, FIFOs."""

    def __init__(self, voice: Voice, dev_rate: int, dev_hop: int) -> None:
        self.voice = voice
        self.dev_rate = dev_rate
        self.dev_hop = dev_hop
        self.state = voice.init_state()
        self.r_in = StreamResampler(dev_rate, voice.sample_rate)
        self.r_out = StreamResampler(voice.sample_rate, dev_rate)
        self.prefill = fifo_prefill(dev_rate, dev_hop, voice)
        self._vin = np.zeros(0, dtype=np.float32)
        self._vout = np.zeros(self.prefill, dtype=np.float32)
        self.params_applied: object = None
        self.direct = self.r_in.identity and voice.hop == dev_hop and self.prefill == 0
        """Same rate and hop: no resampling and no FIFOs (the common case is also the cheapest)."""
        self.step_time = 0.0
        """Seconds spent in ``voice.step`` so far (the worker's estimate of the voice's cost)."""
        self._dry = np.zeros(voice.latency, dtype=np.float32)
        """The input delayed by the voice's latency: dry hops (bypass, dropped) keep the wet lag."""

    @property
    def lag(self) -> float:
        """Delay from pipeline input to output in device frames (may be fractional)."""
        ratio = self.dev_rate / self.voice.sample_rate
        return self.prefill + self.r_out.delay + (self.r_in.delay + self.voice.latency) * ratio

    @property
    def resampler_delay(self) -> float:
        """Seconds of delay from the two resamplers."""
        return self.r_in.delay / self.voice.sample_rate + self.r_out.delay / self.dev_rate

    def process(self, x: np.ndarray, mode: Mode) -> np.ndarray:
        """One device hop ``x[dev_hop]`` -> ``y[dev_hop]``; ``mode`` wet runs the voice."""
        if self.direct:
            return self._run_voice(x, mode)
        self._vin = np.concatenate([self._vin, self.r_in.process(x)])
        vh = self.voice.hop
        outs = []
        while len(self._vin) >= vh:
            chunk, self._vin = self._vin[:vh], self._vin[vh:]
            outs.append(self.r_out.process(self._run_voice(chunk, mode)))
        if outs:
            self._vout = np.concatenate([self._vout, *outs])
        out, self._vout = self._vout[: self.dev_hop], self._vout[self.dev_hop :]
        return out

    def _run_voice(self, chunk: np.ndarray, mode: Mode) -> np.ndarray:
        """One voice hop: the voice's output (wet), the delayed input (dry) or silence."""
        dry = self._delay_dry(chunk)
        if mode == "dry":
            return dry
        if mode == "silence":
            return np.zeros(len(chunk), dtype=np.float32)
        t0 = time.perf_counter()
        with _torch_inference_mode():
            y, self.state = self.voice.step(chunk, self.state)
        self.step_time += time.perf_counter() - t0
        y = np.asarray(y, dtype=np.float32).reshape(-1)
        if len(y) != len(chunk):
            raise RuntimeError(f"it returned {len(y)} samples instead of {len(chunk)}")
        return y

    def _delay_dry(self, chunk: np.ndarray) -> np.ndarray:
        """``chunk`` delayed by ``voice.latency`` samples; fed every hop so it is always current."""
        if len(self._dry) == 0:
            return chunk
        joined = np.concatenate([self._dry, chunk])
        self._dry = joined[len(chunk) :]
        return joined[: len(chunk)]


class Worker:
    """The processing thread. Owns the current pipeline; the engine talks to it through slots.

    Slots written by other threads and read once per hop: ``params`` (a frozen LiveParams),
    ``pending`` (a prepared VoicePipeline to swap in), ``stop_requested``.
    """

    def __init__(
        self,
        config: EngineConfig,
        io: AnyDuplexIO,
        pipeline: VoicePipeline,
        params: LiveParams,
        rate: int,
        monitor: RingBuffer | None,
        on_error: Callable[[str], None],
        *,
        step_seconds: float = 0.0,
        denoise: VoicePipeline | None = None,
    ) -> None:
        self.config = config
        self.io = io
        self.pipeline = pipeline
        self.denoise = denoise
        """The noise suppressor (``audio/denoise.py``) run on every hop before the gate, or None."""
        self.params = params
        self.pending: VoicePipeline | None = None
        self.rate = rate
        self.hop = pipeline.dev_hop
        self.monitor = monitor
        self.on_error = on_error
        self.stop_requested = False
        self.monitor_io: AnyMonitorIO | None = None
        self.monitor_shift = 0.0
        """(main output latency - monitor output latency) in frames, set by the engine."""
        self.step_seconds = step_seconds
        """Seconds the worker needs for one hop (measured by the engine before the stream starts)."""
        self.plan: FillPlan = plan_fill(self.hop, self.hop, self._processing(), config.margin)
        """The output pre-fill the worker keeps (``mark_started`` sets the first one)."""
        self.replans = 0
        self.period_gaps = 0
        """Output underflows in the host cycle that first grew past the planned period: no pre-fill
        planned for the old period can cover a larger cycle (the callback asks for more than the
        input it has delivered allows), so they come with a period increase; the worker re-plans at
        once and the concealment tail fills the gap."""
        self._underruns_seen = 0
        self.fill_now = 0
        """``out.frames_written - inp.frames_read`` after the last hop: the pre-fill really held."""
        self._started = time.perf_counter()
        self._monitor_delta = 0
        self._monitor_drop = 0  # frames still to leave out of the monitor's writes (re-alignment)
        self.realtime = False
        """Whether the worker thread got real-time scheduling."""
        self.hops = 0
        self.late_hops = 0
        self.hop_times = np.zeros(HISTORY, dtype=np.float64)
        self.wet_times = np.zeros(64, dtype=np.float64)
        self._wet_count = 0
        self._drops_in_row = 0
        self.input_level_db = -120.0
        self.output_level_db = -120.0
        xf = config.crossfade_frames(rate, self.hop)
        self._gain_fade = equal_gain_fade(xf)
        self._power_fade = equal_power_fade(xf)
        self._buf = np.zeros(self.hop, dtype=np.float32)
        self._last_mode: Mode = "wet"
        self._last_sample = 0.0
        self.gate = NoiseGate(rate)
        n = max(1, round(CONCEAL_S * rate))
        self._conceal_fade = (0.5 + 0.5 * np.cos(np.pi * np.arange(n) / n)).astype(np.float32)
        self._recent = np.zeros(n, dtype=np.float32)  # the last output frames written
        self._tail = np.zeros(n, dtype=np.float32)  # the concealment tail last put past them
        self.thread = threading.Thread(target=self._run, name="voxshift-worker", daemon=True)

    # -- thread -------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        self.realtime = _try_realtime(self.config.worker_priority)
        try:
            while not self.stop_requested:
                if not self._wait_for_hop():
                    continue
                self._one_hop()
        except Exception as exc:  # boundary: report, never crash the process
            name = self.pipeline.voice.name
            self.on_error(f"The voice '{name}' failed and the engine stopped: {type(exc).__name__}: {exc}")

    def _wait_for_hop(self) -> bool:
        """True when a full hop is in the input ring; else wait for the callback's signal (or, with
        ``wake="poll"``, sleep a little) and return False."""
        avail = self.io.inp.available_read
        if avail >= self.hop:
            return True
        if self.io.finished:
            self.on_error("The audio stream stopped (the device was unplugged or the audio server quit).")
            self.stop_requested = True
            return False
        silent_for = time.perf_counter() - (self.io.last_call or self._started)
        if silent_for > self.config.watchdog_s:
            self.on_error(
                f"The audio device delivered no audio for {silent_for:.1f} s "
                "(unplugged, or the audio server stopped); the engine stopped."
            )
            self.stop_requested = True
            return False
        if self.config.wake == "signal":
            self.io.wait_input(min(WAIT_SLICE_S, self.config.watchdog_s / 4))
        else:
            time.sleep(max(0.0003, 0.7 * (self.hop - avail) / self.rate))
        return False

    # -- one hop ------------------------------------------------------------------------------
    def _one_hop(self) -> None:
        t0 = time.perf_counter()
        params = self.params  # read once per hop
        self._follow_period()
        x = self._buf
        fill = self.io.out.frames_written - self.io.inp.frames_read  # before this hop's read
        self.io.inp.read(x)
        x *= db_to_gain(params.input_gain_db)
        self.input_level_db = level_db(x)
        if self.denoise is not None:
            x = self.denoise.process(x, "wet")
        self.gate.process(x, params.gate_db, level_db(x))
        mode = self._choose_mode(params)
        step_before = self.pipeline.step_time
        y = self._process(x, params, mode)
        y = self._transition(y, mode)
        out = self._fit(y * db_to_gain(params.output_gain_db), self.plan.fill - fill)
        self.output_level_db = level_db(out)
        self._write(out)
        if self.monitor is not None:
            self._feed_monitor(out * db_to_gain(params.monitor_gain_db - params.output_gain_db))
        self.fill_now = self.io.out.frames_written - self.io.inp.frames_read
        self._underruns_seen = self.io.out.underruns
        elapsed = time.perf_counter() - t0
        self.hop_times[self.hops % HISTORY] = elapsed
        if mode == "wet":
            step = max(0.0, self.pipeline.step_time - step_before)
            self.wet_times[self._wet_count % len(self.wet_times)] = step
            self._wet_count += 1
        self.hops += 1

    # -- the pre-fill ---------------------------------------------------------------------------
    def _processing(self) -> float:
        return processing_frames(self.step_seconds, self.rate, self.config.late_margin)

    def _follow_period(self) -> None:
        """Re-plan the pre-fill when the host's cycles changed size (at once when they grew: the
        larger cycle has already taken more than was there; when they shrank, once no larger
        cycle is left in the callback's log)."""
        period = self.io.period()
        if period <= 0 or period == self.plan.period:
            return
        if self._wet_count:  # what the voice costs now, not at start-up
            n = min(self._wet_count, len(self.wet_times))
            self.step_seconds = float(np.median(self.wet_times[:n]))
        if period > self.plan.period:
            self.period_gaps += self.io.out.underruns - self._underruns_seen
        self.plan = plan_fill(period, self.hop, self._processing(), self.config.margin)
        self.replans += 1

    def _fit(self, y: np.ndarray, missing: int) -> np.ndarray:
        """This hop's output, adjusted by up to ``missing`` frames towards the planned pre-fill.

        More frames are needed at once: the continuation of the concealment tail goes first (a
        fade-out, then silence) and ``_write`` fades the hop in after it. A surplus is removed a
        little per hop: the hop is resampled to up to :data:`SHRINK_PER_HOP` fewer frames.
        """
        if missing > 0:
            gap = (
                self._tail[:missing]
                if missing <= len(self._tail)
                else np.concatenate([self._tail, np.zeros(missing - len(self._tail), dtype=np.float32)])
            )
            return np.concatenate([gap, y]).astype(np.float32, copy=False)
        share = SHRINK_IN_SILENCE if level_db(y) < SILENCE_DB else SHRINK_PER_HOP
        cut = min(-missing, int(len(y) * share))
        if cut <= 0:
            return y
        n = len(y)
        # sample n - 1 lands on the last output frame; the first lands just after the previous hop
        t = (np.arange(1, n - cut + 1) * (n / (n - cut)) - 1.0).astype(np.float64)
        xp = np.arange(-1, n, dtype=np.float64)
        fp = np.concatenate([[self._recent[-1]], y]).astype(np.float64)
        return np.interp(t, xp, fp).astype(np.float32)

    def _write(self, out: np.ndarray) -> None:
        """Write ``out`` to the output ring, fading in where audio resumes after a gap, then put a
        new concealment tail past it."""
        ring = self.io.out
        gap = len(out) - self.hop if len(out) > self.hop else 0  # frames _fit inserted
        behind = ring.frames_read - ring.frames_written  # > 0: the reader passed us (an underflow)
        resume = max(gap, behind)
        if resume > 0:
            fade_in, fade_out = self._gain_fade
            k = min(len(fade_in), len(out) - resume)
            if k > 0:
                conceal = np.zeros(k, dtype=np.float32)
                lo, hi = resume, min(resume + k, len(self._tail))
                if hi > lo:
                    conceal[: hi - lo] = self._tail[lo:hi]
                seg = out[resume : resume + k]
                out = out.copy()
                out[resume : resume + k] = seg * fade_in[:k] + conceal * fade_out[:k]
        ring.write(out)
        recent = self._recent
        m = min(len(out), len(recent))
        recent[:-m] = recent[m:]
        recent[-m:] = out[-m:]
        self._tail = recent[::-1] * self._conceal_fade
        ring.write_tail(self._tail)

    def _choose_mode(self, params: LiveParams) -> Mode:
        if params.bypass:
            return "dry"
        if self._is_late():
            self.late_hops += 1
            return self.config.late_policy
        return "wet"

    def _is_late(self) -> bool:
        """True if running the voice now would miss the output deadline (or already has).

        The estimate is the median time ``voice.step`` took on recent wet hops (robust to a
        thread being preempted now and then) times ``late_margin``; after ``PROBE_EVERY`` dropped hops in a
        row one wet hop runs anyway, so a stale estimate (a slow first hop) cannot stick.
        """
        slack = self.io.out.frames_written - self.io.out.frames_read
        if slack < 0:
            return self._count_drop()
        if self._wet_count < 4 or self._drops_in_row >= PROBE_EVERY:
            self._drops_in_row = 0
            return False
        period = max(1, self.plan.period)
        n = min(self._wet_count, len(self.wet_times))
        expected = float(np.median(self.wet_times[:n])) * self.config.late_margin
        deadline = self.io.last_call + (slack // period + 1) * period / self.rate
        if time.perf_counter() + expected > deadline:
            return self._count_drop()
        self._drops_in_row = 0
        return False

    def _count_drop(self) -> bool:
        self._drops_in_row += 1
        return True

    def _process(self, x: np.ndarray, params: LiveParams, mode: Mode) -> np.ndarray:
        pending = self.pending
        if pending is not None:
            self.pending = None
            return self._swap(pending, x, params, mode)
        self._apply_voice_params(self.pipeline, params)
        return self.pipeline.process(x, mode)

    def _swap(self, new: VoicePipeline, x: np.ndarray, params: LiveParams, mode: Mode) -> np.ndarray:
        """Run old and new pipeline on this hop and crossfade (equal power: different voices)."""
        old_y = self.pipeline.process(x, mode)
        self._apply_voice_params(new, params)
        new_y = new.process(x, mode)
        self.pipeline = new
        return self._fade_into(old_y, new_y)

    def _fade_into(self, old_y: np.ndarray, new_y: np.ndarray) -> np.ndarray:
        n = len(self._power_fade[0])
        out = new_y.copy()
        crossfade(old_y[:n], new_y[:n], self._power_fade, out=out[:n])
        return out

    @staticmethod
    def _apply_voice_params(pipeline: VoicePipeline, params: LiveParams) -> None:
        if pipeline.params_applied is not params.voice:
            pipeline.voice.set_params(params.voice)
            pipeline.params_applied = params.voice

    def _transition(self, y: np.ndarray, mode: Mode) -> np.ndarray:
        """At a change of source (wet/dry/silence), fade from the last output sample held."""
        if mode != self._last_mode:
            n = len(self._gain_fade[0])
            held = np.full(n, self._last_sample, dtype=np.float32)
            y = y.copy()
            crossfade(held, y[:n], self._gain_fade, out=y[:n])
            self._last_mode = mode
        if len(y):
            self._last_sample = float(y[-1])
        return y

    def _feed_monitor(self, y: np.ndarray) -> None:
        """Write the hop to the monitor ring, keeping it in step with the main output.

        Both devices play their rings at (nominally) the same rate; where the monitor's play
        position would put this hop at another moment than the main output (it started later,
        or its clock drifts), the ring is trimmed or padded by the difference.
        """
        ring, mio = self.monitor, self.monitor_io
        assert ring is not None
        if self._monitor_drop > 0:  # the writer trims: the read position is the callback's alone
            drop = min(self._monitor_drop, len(y))
            y = y[drop:]
            self._monitor_drop -= drop
        ring.write(y)
        if mio is None or mio.callbacks < 2 or self.io.callbacks < 2:
            return
        main = self.io.out
        # play positions extrapolated to the same instant from each stream's last callback, and
        # the difference of the two devices' output latencies (what reaches the ear when)
        offset = (main.frames_read - mio.out.frames_read) - (self.io.last_call - mio.last_call) * self.rate
        delta = round((ring.frames_written - main.frames_written) + offset - self.monitor_shift)
        # act only when two hops in a row agree (a callback may run between our reads)
        previous, self._monitor_delta = self._monitor_delta, delta
        if abs(delta) <= MONITOR_TOLERANCE or abs(delta - previous) > MONITOR_TOLERANCE:
            return
        if delta > 0:
            self._monitor_drop = delta  # the monitor plays late: leave frames out of the next writes
        else:
            ring.write(np.zeros(-delta, dtype=np.float32))
        self._monitor_delta = 0

    def mark_started(self, plan: FillPlan) -> None:
        """Called by the engine right before the stream starts, with the pre-fill it wrote."""
        self.plan = plan
        self._started = time.perf_counter()
