"""Default settings at host periods that are not the hop, and a period that changes mid-stream.

Real hosts rarely run their period equal to the engine's hop (PipeWire 1024, CoreAudio 512, ASIO
anything, and PipeWire changes it while a stream runs). Each case streams through a JACK dummy
server at that period with the engine's default settings and checks what a listener gets: the
input at the planned lag (sample-exact, from the harness), the engine's own measurement equal to
it, and no underflow or late hop once warm unless the host stalled a CPU (``StallProbe``). This is
a representative subset; ``bench/periods.py`` runs the whole matrix (``benchkit/periods.py`` is
what both run).
"""

from __future__ import annotations

import subprocess
import threading
import time
import warnings
from typing import Any

import numpy as np
import pytest

from audio.config import EngineConfig
from audio.engine import Engine
from benchkit.jackbench import JackHarness, JackPool, JackServer, measure_lag
from benchkit.periods import run_case
from models.base import PassthroughVoice

pytestmark = [pytest.mark.jack, pytest.mark.slow]
SECONDS = 2.0


class _SessionPool(JackPool):
    """``run_case`` asks a pool for its server; the session's ``jack_server`` factory is one."""

    def __init__(self, factory: Any) -> None:
        super().__init__()
        self.factory = factory

    def get(self, rate: int = 48000, period: int = 256, *, fresh: bool = False) -> JackServer:
        server: JackServer = self.factory(rate, period, fresh=fresh)
        return server


@pytest.mark.parametrize(
    ("rate", "period", "hop_ms", "kind"),
    [
        (48000, 1024, 10.0, "passthrough"),  # PipeWire's default quantum, the CLI's default hop
        (48000, 64, 2.67, "passthrough"),
        (48000, 2048, 20.0, "builtin"),  # PortAudio hands JACK's 2048 over as two 1024 blocks
        (44100, 512, 5.33, "passthrough48"),  # CoreAudio's usual buffer; a 48 kHz voice, resampled
        (48000, 256, 0.0, "llvc"),  # an LLVC voice's 13 ms chunk and its cost
    ],
    ids=[
        "1024-10ms-passthrough",
        "64-2.67ms-passthrough",
        "2048-20ms-builtin",
        "44k-512-resampled",
        "256-llvc",
    ],
)
def test_default_settings_at_a_period_that_is_not_the_hop(jack_server, rate, period, hop_ms, kind):
    r = run_case(_SessionPool(jack_server), rate, period, kind, hop_ms, SECONDS, attempts=3)  # quietest take
    detail = (
        f"lag {r.lag}, planned {r.planned:.1f}, measured {r.measured}, period {r.stats.period}, "
        f"rtf {r.rtf:.3f}, underflows {r.underflows}, late hops {r.late_hops}, "
        f"xruns {r.xruns}/{r.jack_xruns}, "
        f"{r.bad_windows} of {r.windows} windows differ, host disturbances {r.disturbances}, "
        f"longest CPU stall {r.stall_ms:.1f} ms; {r.stats.planned.describe()}"
    )
    assert r.stats.period == period, detail  # planned for the period the host really runs
    # The plan is the truth, and so is the engine's own measurement: to the frame (resampled
    # voices: within one) on an undisturbed take; within a period, as the issue asks, after the
    # host broke JACK's cycle (it may then shift a late client's audio by a period).
    assert r.source == "jack" and r.measured is not None, detail
    tolerance = 1 if not r.disturbances else period
    assert abs(r.lag - r.planned) <= tolerance and abs(r.measured - r.lag) <= tolerance, detail
    # the input in every 10 ms window away from host glitches, except those a counted event hit
    allowed = (r.late_hops + r.underflows) * (-(-(r.hop + period) // 480) + 1)
    assert r.windows >= 10 and r.bad_windows <= allowed, detail
    if r.quiet:
        assert r.clean, detail
    else:
        warnings.warn(f"zero underflows not checkable, the host stalled a CPU: {detail}", stacklevel=1)


def _chirp(seconds: float, rate: int, lo: float = 300.0, hi: float = 600.0) -> np.ndarray:
    """A tone gliding from ``lo`` to ``hi`` Hz: smooth like a sine, but every stretch is unique (a
    lag can be measured on it); its largest step between samples is ``0.5 * 2 pi hi / rate``."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * (lo * t + (hi - lo) * t**2 / (2 * seconds))
    return (0.5 * np.sin(phase)).astype(np.float32)


def test_a_period_that_changes_mid_stream_is_followed_without_a_click(jack_server):
    """PipeWire changes its quantum while streams run; ``jack_bufsize`` does the same to JACK.

    At each change the engine re-plans without a restart: a longer period at once (the cycle that
    first grows asks for more than any pre-fill planned for the old period holds: that one gap is
    counted as a period gap and filled by the concealment fade), a shorter one by playing a few
    hops slightly faster. A gliding tone comes back without a step larger than its own anywhere JACK
    itself did not break the stream (JACK passes one period of silence along every connection when its
    buffer size changes: a plain passthrough client gets it too; the harness marks those cycles).
    """
    rate = 48000
    server = jack_server(rate, 256)
    engine = Engine(EngineConfig(samplerate=rate), PassthroughVoice(rate, 480))
    engine.start()
    sequence = (1024, 64, 2048, 256)
    try:
        time.sleep(0.5)
        with JackHarness(server) as bench:
            bench.connect_app()
            time.sleep(0.5)
            x = _chirp(3.0 * len(sequence) + 1.0, rate)
            lags: list[tuple[int, float, float | None]] = []

            def change() -> None:
                for period in sequence:
                    time.sleep(0.8)
                    cmd = ["jack_bufsize", str(period)]
                    subprocess.run(cmd, env=server.env(), capture_output=True, check=True)
                    # re-planned at once; after a shorter period the surplus plays out (4 % a hop)
                    deadline = time.monotonic() + 6.0
                    while True:
                        time.sleep(0.1)
                        st = engine.stats()
                        measured = st.measured_latency
                        settled = measured is not None and abs((measured - st.planned.total) * rate) <= 1
                        if (st.period == period and settled) or time.monotonic() > deadline:
                            break
                    lags.append((st.period, st.planned.total * rate, measured))

            changer = threading.Thread(target=change, daemon=True)
            before = engine.stats()
            changer.start()
            rec = bench.play_record(x, tail=0.3)[0]
            changer.join(timeout=60)
            after = engine.stats()
            disturbances = bench.disturbances
    finally:
        engine.stop()
    detail = (
        f"(period, planned, measured) {lags}; disturbances {disturbances}; error {engine.error}; "
        f"hops {after.hops}; {after.planned.describe()}"
    )
    assert [p for p, _, _ in lags] == list(sequence), detail  # planned for each new period
    for _period, planned, measured in lags:
        assert measured is not None and abs(measured * rate - planned) <= 1, detail  # settled
    assert after.replans >= len(sequence), detail
    underflows = after.output_underflows - before.output_underflows
    gaps = after.period_gaps - before.period_gaps
    # only the first cycle of a longer period may underflow (2048 arrives as two 1024 blocks)
    assert underflows - gaps <= after.late_hops - before.late_hops, detail
    assert gaps <= 1 + 2 + 1, detail  # 256->1024, 64->2048 (two blocks), 2048->256 (none)
    # no click anywhere JACK did not interrupt the stream itself
    slope = 0.5 * 2 * np.pi * 600.0 / rate
    steps = np.abs(np.diff(rec[: len(x)]))
    near = np.zeros(len(steps), dtype=bool)
    for t in disturbances:
        near[max(0, t - 2 * 2048) : t + 2 * 2048] = True
    assert near.mean() < 0.3, detail
    worst = float(steps[~near].max())
    assert worst <= 1.3 * slope, (worst / slope, int(np.flatnonzero(steps == worst)[0]), detail)
    # and the tone is back at the final plan's lag
    lag, corr = measure_lag(x[-rate:], rec[len(x) - 2 * rate : len(x) + 8192])
    assert abs(lag - rate - lags[-1][1]) <= 1 and corr > 0.99, (lag, corr, detail)
