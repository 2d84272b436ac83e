"""Soak: ten minutes each of an RVC, an LLVC and a built-in voice streaming on JACK.

For each voice the engine runs with its default settings on a JACK dummy server (period 256 at
48 kHz unless told otherwise) while the sample-exact harness plays seeded noise for the whole run
and records what comes back, and the host-stall probe watches the CPUs. It reports:

- lag drift: the true lag (harness) in the first and the last 30 s of the run (goal: none), and
  the engine's own measured latency over the run (min/max);
- memory: the process's resident set after a minute of warm-up and at the end (goal: under 20 MB
  of growth);
- underflows, late hops and xruns next to the host stalls seen in the same run.

The RVC and LLVC voices are rule-weight models of the published sizes (no identity): every hop
really runs the network (``benchkit.periods.CostlyDelay``), and the output is the input delayed
by the voice's latency, so the lag can be measured by correlation. The built-in voice is "shift"
at 0 semitones, whose real output is the input.

    .venv/bin/python -m bench.soak [--seconds 600] [--voices builtin llvc rvc] [--period 256]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.config import EngineConfig
from audio.engine import Engine
from bench.hostjitter import cpu_times, steal_pct
from benchkit.jackbench import JackHarness, JackPool, measure_lag
from benchkit.periods import CostlyDelay, make_voice
from benchkit.stallprobe import StallProbe
from models.base import Voice, VoiceParams

RATE = 48000
REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "reference"  # data files only
WARMUP_S = 60.0
EDGE_S = 30.0


def rss_mb() -> float:
    """This process's resident set in MB (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rvc_voice() -> Voice:
    """The realtime RVC voice on rule-weight community-size files (v2 40k, 0.25 s blocks, RMVPE)."""
    from models.content.testing import write_rule_hubert
    from models.pitch.testing import write_rule_rmvpe
    from models.rvc.inference import open_realtime_voice
    from models.rvc.realtime import RealtimeConfig
    from models.rvc.testing import write_voice_file
    from models.testing import load_manifest

    folder = Path(tempfile.mkdtemp(prefix="voxshift-soak-"))
    voice_file = write_voice_file(
        folder / "v2.pth", manifest=load_manifest(REFERENCE / "manifest_rvc_v2_f0_40k.json")
    )
    hubert = write_rule_hubert(folder / "hubert_base.pt", REFERENCE / "manifest_hubert_base.json")
    rmvpe = write_rule_rmvpe(folder / "rmvpe.pt", REFERENCE / "manifest_rmvpe.json")
    voice: Voice = open_realtime_voice(
        voice_file,
        hubert,
        rmvpe,
        REFERENCE / "pipeline_v2_40k.index",
        RealtimeConfig(block_time=0.25, extra_time=0.5, crossfade_time=0.05),
        VoiceParams(f0_method="rmvpe"),
    )
    return CostlyDelay(voice)


@dataclass
class SoakRow:
    voice: str
    seconds: float
    rtf: float
    lag_first_ms: float
    lag_last_ms: float
    measured_min_ms: float
    measured_max_ms: float
    rss_warm_mb: float
    rss_end_mb: float
    underflows: int
    late_hops: int
    xruns: int
    jack_xruns: int
    stalls_over_half_period: int
    longest_stall_ms: float
    steal: float


def soak(pool: JackPool, kind: str, seconds: float, period: int) -> SoakRow:
    voice = rvc_voice() if kind == "rvc" else make_voice(kind, RATE, 10.0)
    server = pool.get(RATE, period)
    engine = Engine(EngineConfig(samplerate=RATE), voice)
    engine.start()
    samples: list[tuple[float, float | None, float]] = []  # (t, measured s, rss MB)
    stop = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(5.0):
            samples.append((time.monotonic() - t0, engine.stats().measured_latency, rss_mb()))

    try:
        time.sleep(1.0)
        with JackHarness(server) as bench:
            bench.connect_app()
            time.sleep(1.0)
            x = bench.test_signal(seconds, seed=11) * (0.3 if kind == "llvc" else 1.0)
            sampler = threading.Thread(target=sample, daemon=True)
            times0 = cpu_times()
            with StallProbe() as host:
                before, jack_before = engine.stats(), bench.xruns
                sampler.start()
                rec = bench.play_record(x.astype(np.float32), tail=1.0)[0]
                after, jack_xruns = engine.stats(), bench.xruns - jack_before
            stop.set()
            sampler.join(timeout=10)
            steal = steal_pct(times0, cpu_times())
    finally:
        stop.set()
        engine.stop()
    edge = int(EDGE_S * RATE)
    first, _ = measure_lag(x[:edge], rec[: edge + RATE])
    last_start = len(x) - edge
    last, _ = measure_lag(x[last_start:], rec[last_start : last_start + edge + RATE])
    measured = [m for _, m, _ in samples if m is not None]
    warm = [r for t, _, r in samples if t >= WARMUP_S] or [r for _, _, r in samples]
    return SoakRow(
        voice=f"{kind} ({voice.name})",
        seconds=seconds,
        rtf=after.rtf,
        lag_first_ms=first / RATE * 1e3,
        lag_last_ms=last / RATE * 1e3,
        measured_min_ms=min(measured, default=float("nan")) * 1e3,
        measured_max_ms=max(measured, default=float("nan")) * 1e3,
        rss_warm_mb=warm[0] if warm else 0.0,
        rss_end_mb=rss_mb(),
        underflows=after.output_underflows - before.output_underflows,
        late_hops=after.late_hops - before.late_hops,
        xruns=after.xruns - before.xruns,
        jack_xruns=jack_xruns,
        stalls_over_half_period=host.count_over(0.5e3 * period / RATE),
        longest_stall_ms=host.longest_ms,
        steal=steal,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument(
        "--voices", nargs="+", default=["rvc", "llvc", "builtin"], choices=["rvc", "llvc", "builtin"]
    )
    parser.add_argument("--period", type=int, default=256)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    pool = JackPool()
    rows = []
    load = os.getloadavg()[0]
    try:
        for kind in args.voices:
            rows.append(soak(pool, kind, args.seconds, args.period))
    finally:
        pool.close()
    print(
        f"48 kHz, JACK period {args.period}, default engine settings; load average {load:.1f} at the start\n"
    )
    print(
        "| voice | s | RTF | lag first 30 s ms | lag last 30 s ms | measured min-max ms "
        "| RSS after 1 min MB | RSS growth MB | underflows | late hops | xruns (stream/JACK) "
        "| host stalls > half period | longest stall ms | steal % |"
    )
    print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    for r in rows:
        print(
            f"| {r.voice} | {r.seconds:.0f} | {r.rtf:.2f} | {r.lag_first_ms:.2f} | {r.lag_last_ms:.2f} | "
            f"{r.measured_min_ms:.2f}-{r.measured_max_ms:.2f} | {r.rss_warm_mb:.0f} | "
            f"{r.rss_end_mb - r.rss_warm_mb:+.1f} | {r.underflows} | {r.late_hops} | "
            f"{r.xruns}/{r.jack_xruns} | {r.stalls_over_half_period} | {r.longest_stall_ms:.1f} | "
            f"{r.steal:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
