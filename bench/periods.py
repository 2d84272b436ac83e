"""The engine at every host period against every hop: default settings, JACK dummy driver.

Real devices rarely run their period equal to the hop (PipeWire 1024, CoreAudio 512, ASIO
anything, WASAPI 10 ms). For each rate, period, hop and voice this streams seeded noise through
the engine with its default settings (``benchkit/periods.py``) and prints one markdown row: the
true capture-to-playback lag from the sample-exact harness, the engine's plan and its own
measurement, underflows, late hops and xruns, and the longest CPU stall the host caused meanwhile
(a stall over half a period breaks any JACK graph, whatever its clients do).

    .venv/bin/python -m bench.periods [--seconds 2] [--rates 48000 44100] [--periods 64 ... 2048]
                                      [--hops-ms 2.67 5.33 10 20] [--voices passthrough builtin llvc]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.hostjitter import cpu_times, steal_pct
from benchkit.jackbench import JackPool
from benchkit.periods import CaseResult, run_case

HEADER = (
    "| rate | period | voice | hop | RTF | planned ms | measured ms | true lag ms | meas - true | "
    "underflows | late | xruns (stream/JACK) | bad windows | host stall ms |\n"
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def row(r: CaseResult) -> str:
    ms = 1e3 / r.rate
    measured = "planned only" if r.measured is None else f"{r.measured * ms:.2f}"
    diff = "" if r.measured is None else f"{r.measured - r.lag:+.0f} fr"
    stall = f"{r.stall_ms:.1f}" + ("" if r.quiet else " (stalled)")
    return (
        f"| {r.rate} | {r.period} | {r.kind} | {r.hop} | {r.rtf:.2f} | {r.planned * ms:.2f} | {measured} | "
        f"{r.lag * ms:.2f} | {diff} | {r.underflows} | {r.late_hops} | {r.xruns}/{r.jack_xruns} | "
        f"{r.bad_windows}/{r.windows} | {stall} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rates", type=int, nargs="+", default=[48000, 44100])
    parser.add_argument("--periods", type=int, nargs="+", default=[64, 128, 256, 512, 1024, 2048])
    parser.add_argument("--hops-ms", type=float, nargs="+", default=[2.67, 5.33, 10.0, 20.0])
    parser.add_argument("--voices", nargs="+", default=["passthrough", "builtin", "llvc"])
    args = parser.parse_args()
    pool = JackPool()
    rows: list[CaseResult] = []
    load, times0 = os.getloadavg()[0], cpu_times()
    print(HEADER, flush=True)
    try:
        for rate in args.rates:
            for period in args.periods:
                for kind in args.voices:
                    hops = [0.0] if kind == "llvc" else args.hops_ms  # LLVC runs its own 13 ms chunk
                    for hop_ms in hops:
                        result = run_case(pool, rate, period, kind, hop_ms, args.seconds)
                        rows.append(result)
                        print(row(result), flush=True)
    finally:
        pool.close()
    clean = [r for r in rows if r.quiet]
    exact = sum(r.measured is not None and abs(r.measured - r.lag) <= 1 for r in rows)
    within = sum(r.measured is not None and abs(r.measured - r.lag) <= r.period for r in rows)
    clean_ok = sum(r.clean for r in clean)
    print(
        f"\n{len(rows)} cases; measured = true lag to the frame in {exact}, within a period in {within}; "
        f"{len(clean)} ran without a CPU stall over half a period, {clean_ok} of them with 0 underflows, "
        f"late hops and xruns. Load average {load:.1f} at the start, host steal "
        f"{steal_pct(times0, cpu_times()):.2f} % over the run."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
