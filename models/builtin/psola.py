"""Streaming, causal TD-PSOLA: pitch shift that keeps formants, plus an independent formant shift.

How it works
------------
*Analysis marks* are placed one pitch period apart on the input (on unvoiced audio, a fixed
``unvoiced_step`` apart). Each mark carries the local period from the YIN detector and is nudged
(±12 % of a period) onto the local energy peak so that grains line up with the glottal pulses.
*Synthesis marks* are placed on the output time axis ``period / ratio`` apart (``unvoiced_step``
apart on unvoiced audio, so noise is reproduced unchanged). Each synthesis mark copies the grain
(a Hann-windowed stretch of input, two periods long at most) of the latest analysis mark at or
before it. Because a grain keeps its shape, the spectral envelope (formants) stays; because grains
are re-spaced, the harmonics move. Reading a grain ``beta`` times faster (resampling it) scales
its envelope by ``beta``: that is the formant shift, independent of the pitch.

Latency
-------
Grains are at most ``2 * max_half`` long and marks move by at most ``search_max``; with the
"latest mark at or before" rule the output up to ``now - latency`` is final, where
``latency = 2 * (H + D) + 4`` samples (``H``, ``D``: ``max_half`` and ``search_max`` in samples).
With the defaults that is 24 ms at any sample rate. Everything is hop-size independent: the same
input gives the same output whatever the hop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsp.yin import Yin, YinConfig


@dataclass(frozen=True)
class ShifterConfig:
    """Tunables of the PSOLA shifter (seconds unless noted)."""

    max_half: float = 0.0105
    """Longest grain half-length. Periods longer than this (f0 < ~95 Hz) get shorter grains."""
    search: float = 0.12
    """Mark alignment search radius as a share of the period."""
    search_max: float = 0.0015
    """Cap of the alignment search radius."""
    unvoiced_step: float = 0.004
    """Mark spacing (and grain half-length) on unvoiced audio."""
    estimate_step: float = 0.0025
    """Pitch is estimated this often (on a fixed grid)."""
    max_ratio: float = 4.0
    """Pitch ratios are clamped to [1/max_ratio, max_ratio] (±24 semitones)."""
    yin: YinConfig = field(default_factory=YinConfig)

    def __post_init__(self) -> None:
        if not 0.002 <= self.max_half <= 0.02:
            raise ValueError("max_half must be within 2..20 ms")
        if not 0 <= self.search < 0.5 or self.search_max < 0:
            raise ValueError("search must be within 0..0.5 and search_max >= 0")
        if not 0.001 <= self.unvoiced_step <= self.max_half:
            raise ValueError("unvoiced_step must be within 1 ms..max_half")
        if self.max_ratio < 1:
            raise ValueError("max_ratio must be >= 1")


class _History:
    """Append-only sample store with absolute indexing and contiguous views (no per-hop allocation).

    Keeps at least ``keep`` most recent samples; storage is ``2 * keep + slack`` and is compacted
    in place when full.
    """

    def __init__(self, keep: int, slack: int) -> None:
        self.keep = keep
        self.data = np.zeros(2 * keep + slack, dtype=np.float64)
        self.end = 0
        """Absolute index one past the last appended sample."""
        self._fill = keep
        """Position in ``data`` of absolute index ``end`` (starts after ``keep`` zeros of past)."""

    def append(self, x: np.ndarray) -> None:
        n = x.shape[0]
        if self._fill + n > self.data.shape[0]:
            self.data[: self.keep] = self.data[self._fill - self.keep : self._fill]
            self._fill = self.keep
            if self._fill + n > self.data.shape[0]:
                raise ValueError(f"block of {n} samples exceeds the history slack")
        self.data[self._fill : self._fill + n] = x
        self._fill += n
        self.end += n

    def view(self, start: int, stop: int) -> np.ndarray:
        """Samples at absolute indices ``start..stop-1`` (zeros before the stream began)."""
        offset = self._fill - self.end
        if start + offset < 0 or stop > self.end:
            raise IndexError(f"history range {start}..{stop} not available (end {self.end})")
        return self.data[start + offset : stop + offset]


class _Accumulator:
    """Overlap-add output store with absolute indexing; emitted samples are zeroed for reuse."""

    def __init__(self, span: int, slack: int) -> None:
        self.span = span
        self.data = np.zeros(2 * span + slack, dtype=np.float64)
        self.start = 0
        """Absolute index of ``data[self._pos]`` (the first sample not yet emitted)."""
        self._pos = 0

    def region(self, start: int, stop: int) -> np.ndarray:
        """Writable view of absolute ``start..stop-1`` (must not precede ``self.start``)."""
        if start < self.start:
            raise IndexError(f"output sample {start} was already emitted (next is {self.start})")
        need = self._pos + (stop - self.start)
        if need > self.data.shape[0]:
            live = self.data.shape[0] - self._pos
            self.data[:live] = self.data[self._pos :]
            self.data[live:] = 0.0
            self._pos = 0
            if stop - self.start > self.data.shape[0]:
                raise IndexError("grain reaches too far ahead of the output")
        return self.data[self._pos + start - self.start : self._pos + stop - self.start]

    def emit(self, out: np.ndarray) -> None:
        """Move the next ``len(out)`` samples into ``out`` and advance."""
        n = out.shape[0]
        seg = self.region(self.start, self.start + n)
        out[:] = seg
        seg[:] = 0.0
        self._pos += n
        self.start += n


@dataclass
class _Mark:
    t: int
    """Absolute input position of the analysis mark."""
    period: float
    """Local period in samples (voiced) or the unvoiced step."""
    voiced: bool


class _PitchTrack:
    """Recent detector estimates on a fixed grid: ``(centre time, period or 0 if unvoiced)``."""

    def __init__(self, size: int = 256) -> None:
        self.centres = np.full(size, -1e18)
        self.periods = np.zeros(size)
        self.stops = np.zeros(size, dtype=np.int64)
        self.count = 0

    def add(self, centre: float, period: float, stop: int) -> None:
        i = self.count % self.centres.shape[0]
        self.centres[i] = centre
        self.periods[i] = period
        self.stops[i] = stop
        self.count += 1

    def at(self, time: float, horizon: int) -> float:
        """Period at ``time`` from the estimates whose segments end by ``horizon`` (so the answer
        does not depend on how far the stream happens to have run): linear between the two
        estimates around ``time`` when both are voiced, else the nearest (0.0 if unvoiced)."""
        valid = self.stops <= horizon
        dist = self.centres - time
        far = np.where(valid, np.abs(dist), np.inf)
        nearest = int(np.argmin(far))
        if not math.isfinite(far[nearest]):
            return 0.0
        p0 = float(self.periods[nearest])
        opposite = valid & (dist * math.copysign(1.0, dist[nearest]) < 0)
        if dist[nearest] == 0 or p0 <= 0 or not opposite.any():
            return p0
        other = int(np.argmin(np.where(opposite, np.abs(dist), np.inf)))
        p1 = float(self.periods[other])
        if p1 <= 0:
            return p0
        d0, d1 = far[nearest], abs(dist[other])
        return (p0 * d1 + p1 * d0) / (d0 + d1)


@dataclass
class ShifterState:
    """Streaming state of one :class:`PsolaShifter` (owned by one caller)."""

    history: _History
    output: _Accumulator
    marks: list[_Mark]
    next_candidate: int
    """Where the next analysis mark is looked for (absolute input index)."""
    next_synth: float
    """Absolute position of the next synthesis mark."""
    track: _PitchTrack
    next_estimate: int
    """Absolute end of the next detector segment (on a fixed grid, so hop size does not matter)."""


class PsolaShifter:
    """Pitch (ratio) and formant (beta) shifter with a fixed algorithmic delay of ``latency``."""

    def __init__(self, sample_rate: int, config: ShifterConfig | None = None) -> None:
        if sample_rate < 4000:
            raise ValueError(f"sample_rate must be at least 4000 Hz, got {sample_rate}")
        self.config = cfg = config or ShifterConfig()
        self.sample_rate = sample_rate
        self.detector = Yin(sample_rate, cfg.yin)
        self.max_half = math.ceil(cfg.max_half * sample_rate)
        self.search_max = math.ceil(cfg.search_max * sample_rate)
        self.unvoiced_step = max(2, round(cfg.unvoiced_step * sample_rate))
        self.estimate_step = max(1, round(cfg.estimate_step * sample_rate))
        self.lookahead = self.max_half + self.search_max + 4
        """Input needed beyond an analysis candidate before the mark can be placed."""
        self.latency = 2 * (self.max_half + self.search_max) + 4
        self._keep = self.detector.length + self.latency + 2 * self.max_half + self.detector.tau_max + 64
        self._scratch_pos = np.arange(-self.max_half - 1, self.max_half + 2, dtype=np.float64)

    def init_state(self, max_block: int) -> ShifterState:
        """A fresh state for blocks of at most ``max_block`` samples."""
        output = _Accumulator(self.latency + 2 * self.max_half + 16, max_block + 16)
        output.start = -self.latency
        return ShifterState(
            history=_History(self._keep, max_block + 16),
            output=output,
            # A virtual unvoiced mark in the (silent) past starts both mark sequences.
            marks=[_Mark(-self.latency, float(self.unvoiced_step), False)],
            next_candidate=self.unvoiced_step - self.latency,
            next_synth=float(self.unvoiced_step - self.latency),
            track=_PitchTrack(),
            next_estimate=self.estimate_step,
        )

    def process(
        self,
        x: np.ndarray,
        state: ShifterState,
        ratio: float,
        beta: float,
        out: np.ndarray,
        monotone: float = 0.0,
    ) -> None:
        """Shift one block ``x`` ``[n]`` into ``out`` ``[n]``; ``out[i]`` is the input ``latency`` earlier.

        ``ratio``: f0 multiplier; ``beta``: formant (envelope) multiplier; ``monotone``: if > 0,
        voiced output uses this fixed period in samples instead of ``period / ratio`` (robot).
        """
        lim = self.config.max_ratio
        ratio = min(max(ratio, 1.0 / lim), lim)
        beta = min(max(beta, 1.0 / lim), lim)
        state.history.append(x)
        self._track_pitch(state)
        self._place_marks(state)
        self._synthesise(state, ratio, beta, monotone, state.history.end - self.latency)
        state.output.emit(out)

    # -- analysis -------------------------------------------------------------------------------
    def _track_pitch(self, state: ShifterState) -> None:
        """Run the detector on every grid segment that is now complete."""
        det, hist = self.detector, state.history
        while state.next_estimate <= hist.end:
            stop = state.next_estimate
            period, _ = det.estimate(hist.view(stop - det.length, stop))
            # YIN compares x[j] with x[j + period] over `window` samples from the segment start.
            centre = stop - det.length + 0.5 * (det.window + (period or det.tau_max))
            state.track.add(centre, period, stop)
            state.next_estimate += self.estimate_step

    def _place_marks(self, state: ShifterState) -> None:
        """Add every analysis mark whose search region and grain are fully available."""
        hist = state.history
        while state.next_candidate + self.lookahead <= hist.end:
            cand = state.next_candidate
            prev = state.marks[-1]
            period = state.track.at(cand, cand + self.lookahead)
            if period > 0:
                t = self._align(hist, prev, cand, period)
                mark = _Mark(t, period, True)
            else:
                mark = _Mark(cand, float(self.unvoiced_step), False)
            state.marks.append(mark)
            state.next_candidate = mark.t + max(1, round(mark.period))
            if len(state.marks) > 64:
                del state.marks[:32]

    def _radius(self, prev: _Mark) -> int:
        """How far the mark after ``prev`` may move from its candidate position."""
        if not prev.voiced:
            return self.search_max
        return min(round(self.config.search * prev.period), self.search_max)

    def _align(self, hist: _History, prev: _Mark, cand: int, period: float) -> int:
        """Place a voiced mark near ``cand``: one period on from a voiced ``prev`` by waveform
        similarity (so grains line up), or on the local energy peak at a voicing onset."""
        radius = self._radius(prev)
        if radius <= 0:
            return cand
        if not prev.voiced:
            q = max(1, round(period / 8))
            seg = hist.view(cand - radius - q, cand + radius + q + 1)
            energy = np.cumsum(seg * seg)
            window_sum = energy[2 * q :] - np.concatenate(([0.0], energy[: -2 * q - 1]))
            return cand - radius + int(np.argmax(window_sum))
        w = max(2, min(round(period / 2), self.max_half))
        ref = hist.view(prev.t - w, prev.t + w)
        seg = hist.view(cand - radius - w, cand + radius + w)
        corr = np.correlate(seg, ref, mode="valid")
        energy = np.cumsum(np.concatenate(([0.0], seg * seg)))
        local = energy[2 * w :] - energy[: -2 * w]
        score = corr / np.sqrt(np.maximum(local, 1e-12))
        return cand - radius + int(np.argmax(score))

    # -- synthesis ------------------------------------------------------------------------------
    def _synthesise(
        self, state: ShifterState, ratio: float, beta: float, monotone: float, final: int
    ) -> None:
        """Overlap-add grains for every synthesis mark whose source is certain, up to ``final``."""
        marks = state.marks
        last = marks[-1]
        # No later mark can start before last.t + period - radius.
        safe = last.t + max(1, round(last.period)) - self._radius(last)
        # Place marks only when needed, so the pitch estimate near them is as fresh as possible.
        needed = final + self.max_half
        while state.next_synth < safe and state.next_synth <= needed:
            s = state.next_synth
            src = self._source(marks, s)
            if src.voiced:
                period = state.track.at(s, math.floor(s) + self.latency - self.max_half) or src.period
                spacing = monotone if monotone > 0 else period / ratio
                h_in = min(src.period, self.max_half, self.max_half * beta)
            else:
                spacing = float(self.unvoiced_step)
                h_in = min(self.unvoiced_step * beta, self.max_half)
            self._add_grain(state, src.t, s, h_in, beta, spacing)
            state.next_synth = s + spacing
        if state.next_synth - self.max_half < final:
            raise AssertionError("PSOLA scheduling fell behind its latency")  # pragma: no cover

    @staticmethod
    def _source(marks: list[_Mark], s: float) -> _Mark:
        for mark in reversed(marks):
            if mark.t <= s:
                return mark
        return marks[0]

    def _add_grain(
        self, state: ShifterState, t: int, s: float, h_in: float, beta: float, spacing: float
    ) -> None:
        """Window the input around ``t`` (half-length ``h_in``), resample by ``beta``, add at ``s``."""
        h_out = h_in / beta
        gain = math.sqrt(spacing / h_out)
        if beta == 1.0:
            centre = round(s)
            half = math.floor(h_out)
            u = self._scratch_pos[self.max_half + 1 - half : self.max_half + 2 + half]
            src = state.history.view(t - half, t + half + 1)
        else:
            lo = math.ceil(s - h_out + 1e-9)
            hi = math.floor(s + h_out - 1e-9)
            centre = lo
            u = np.arange(lo, hi + 1, dtype=np.float64) - s
            pos = u * beta
            base = math.floor(pos[0]) - 1
            seg = state.history.view(t + base, t + math.floor(pos[-1]) + 3)
            src = np.interp(pos, np.arange(base, base + seg.shape[0], dtype=np.float64), seg)
            half = 0
        window = 0.5 + 0.5 * np.cos(np.pi * u / h_out)
        grain = src * window * gain
        start = centre - half
        state.output.region(start, start + grain.shape[0])[:] += grain
