"""One engine run at a host period that is not the hop: what ``bench/periods.py`` and the tests share.

:func:`run_case` starts the engine with default settings (the voice's own hop, no margin) on a JACK
dummy server at ``period``, plays seeded noise through it with the sample-exact harness while the
host-stall probe watches, and returns what a listener and the engine each saw
(:class:`CaseResult`).

Voices (``kind``):

``passthrough``    the input, unchanged, at the device rate (hop ``hop_ms``);
``passthrough48``  the same at 48 kHz on a device at another rate: both resamplers;
``builtin``        the built-in "shift" voice at 0 semitones (PSOLA analysis and synthesis, which
                   gives the input back: the lag can be measured on it);
``llvc``           an LLVC voice's shape and cost (16 kHz, its 13 ms chunk, its 1 ms lookahead;
                   every chunk really runs the network on rule weights) that outputs its input
                   delayed by that lookahead, so the lag can be measured (LLVC's own output, which
                   rule weights make meaningless, is proven against the reference elsewhere and
                   live in tests/models/test_llvc_jack.py).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio.config import EngineConfig, EngineStats
from audio.engine import Engine
from benchkit.jackbench import JackHarness, JackPool, faithfulness, fractional_delay, measure_lag
from benchkit.stallprobe import StallProbe
from models.base import PassthroughVoice, Voice

KINDS = ("passthrough", "passthrough48", "builtin", "llvc")


class CostlyDelay(Voice):
    """Another voice's rate, hop, latency and compute cost, with its input as the output (delayed
    by that latency): a voice whose lag can be measured by correlation."""

    def __init__(self, inner: Voice) -> None:
        super().__init__()
        self.inner = inner
        self.name = f"{inner.name} (cost only)"
        self.sample_rate, self.hop, self.latency = inner.sample_rate, inner.hop, inner.latency

    def init_state(self) -> Any:
        return self.inner.init_state(), np.zeros(self.latency + self.hop, dtype=np.float32)

    def step(self, x: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        inner_state, delay = state
        _, inner_state = self.inner.step(x, inner_state)
        delay[: self.latency] = delay[self.hop :]
        delay[self.latency :] = x
        return delay[: self.hop].copy(), (inner_state, delay)

    def warmup(self, steps: int = 3) -> None:
        self.inner.warmup(steps)


def make_voice(kind: str, rate: int, hop_ms: float) -> Voice:
    """The voice for one case (see the module docstring)."""
    if kind == "passthrough":
        return PassthroughVoice(rate, max(16, round(hop_ms * rate / 1000)))
    if kind == "passthrough48":
        return PassthroughVoice(48000, max(16, round(hop_ms * 48)))
    if kind == "builtin":
        from models.builtin import create_voice

        voice: Voice = create_voice("shift", sample_rate=48000, hop=max(16, round(hop_ms * 48)))
        return voice
    if kind == "llvc":
        from models.llvc import load_voice
        from models.llvc.testing import write_rule_checkpoint

        folder = Path(tempfile.mkdtemp(prefix="voxshift-llvc-"))
        checkpoint, config = write_rule_checkpoint(folder, check=False)
        return CostlyDelay(load_voice(checkpoint, config))
    raise ValueError(f"unknown voice kind {kind!r}; one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class CaseResult:
    """One run: the harness's truth, the engine's plan and measurement, and the counters."""

    rate: int
    period: int
    kind: str
    hop: int
    lag: int
    """Capture to playback in frames, measured by the harness (sample-exact)."""
    correlation: float
    planned: float
    """The engine's planned latency in frames."""
    measured: float | None
    """The engine's own measurement in frames (None: planned only)."""
    source: str
    underflows: int
    late_hops: int
    xruns: int
    jack_xruns: int
    bad_windows: int
    """10 ms windows away from host disturbances that do not match the input."""
    windows: int
    rtf: float
    stall_ms: float
    """The longest CPU stall the probe saw during the recording."""
    quiet: bool
    """No CPU stalled for half a period: every underflow, xrun or late hop was the engine's."""
    disturbances: int
    stats: EngineStats

    @property
    def clean(self) -> bool:
        return self.underflows == self.late_hops == self.xruns == self.jack_xruns == 0


def run_case(
    pool: JackPool,
    rate: int,
    period: int,
    kind: str,
    hop_ms: float,
    seconds: float = 2.0,
    *,
    attempts: int = 1,
    warmup_s: float = 0.5,
    voice: Voice | None = None,
) -> CaseResult:
    """Stream ``seconds`` of noise through the engine (default settings) at ``period`` frames."""
    server = pool.get(rate, period)
    voice = voice or make_voice(kind, rate, hop_ms)
    engine = Engine(EngineConfig(samplerate=rate), voice)
    engine.start()
    try:
        time.sleep(warmup_s)
        with JackHarness(server) as bench:
            bench.connect_app()
            time.sleep(warmup_s)  # the harness joining the graph is part of the warm-up
            x = bench.test_signal(seconds)
            with StallProbe() as host:
                before, jack_before = engine.stats(), bench.xruns
                rec = bench.play_record(x, tail=0.3, attempts=attempts)[0]
                after, jack_xruns = engine.stats(), bench.xruns - jack_before
            disturbances = list(bench.disturbances)
        hop = engine.hop
    finally:
        engine.stop()
    lag, corr = measure_lag(x, rec)
    planned = after.planned.total * rate
    # compare with the input delayed by the plan's fraction of a frame (resampled voices)
    reference = fractional_delay(x, planned - round(planned), len(x))
    spread = voice.latency * rate // voice.sample_rate + 64
    report = faithfulness(reference, rec, round(planned), disturbances, period, spread=spread)
    return CaseResult(
        rate=rate,
        period=period,
        kind=kind,
        hop=hop,
        lag=lag,
        correlation=corr,
        planned=planned,
        measured=None if after.measured_latency is None else after.measured_latency * rate,
        source=after.measured_source,
        underflows=after.output_underflows - before.output_underflows,
        late_hops=after.late_hops - before.late_hops,
        xruns=after.xruns - before.xruns,
        jack_xruns=jack_xruns,
        bad_windows=report.bad,
        windows=report.undisturbed,
        rtf=after.rtf,
        stall_ms=host.longest_ms,
        quiet=host.quiet_for(period, rate),
        disturbances=len(disturbances),
        stats=after,
    )
