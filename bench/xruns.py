"""xrun benchmark: the loaded run of ``test_20_s_under_torch_load_keeps_the_planned_lag``, repeated.

Starts its own ``jackd -d dummy`` (period = hop), runs the engine (passthrough) while a thread runs
a one-thread torch loop, waits 1 s (warm-up), then streams seeded noise through the harness and
counts, over the run: the stream's xrun flags, JACK's xrun callbacks (seen by the harness client),
output underflows and late hops. The load average before each run says how busy the machine was
and the share of CPU time the hypervisor took during the run ("steal" in /proc/stat, Linux) says
how much the host itself was away (``bench/hostjitter.py`` measures what that does to a realtime
thread's wake-ups). xruns on a shared machine say little about the code; compare runs taken at
similar load and steal. ``--wake both`` interleaves runs where the callback signals the worker
with runs where the worker polls with short sleeps (what it did before), to measure the late
hops signalling saves. Prints a markdown table.

    .venv/bin/python -m bench.xruns [--runs 3] [--seconds 20] [--hop 256] [--period 256] [--margin 0]
                                    [--callback c|python|both] [--load torch|gil] [--wake signal|poll|both]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.config import EngineConfig
from audio.engine import Engine
from bench.hostjitter import cpu_times, steal_pct
from benchkit.jackbench import JackHarness, JackPool, JackServer, measure_lag

RATE = 48000


@dataclass
class Row:
    run: int
    callback: str
    wake: str
    load: float
    stream_xruns: int
    jack_xruns: int
    underflows: int
    late_hops: int
    corr: float
    steal_pct: float


def burn(stop: threading.Event) -> None:
    """The CPU load of the test: a small torch matmul/tanh loop on one thread."""
    import torch

    a = torch.randn(256, 256)
    while not stop.is_set():
        a = torch.tanh(a @ a.T / 256.0)


def hog(stop: threading.Event) -> None:
    """A GIL-holding load: sorting a big list is one C call that never releases the GIL (~30 ms)."""
    data = [((i * 7919) % 100003) / 7.0 for i in range(200_000)]
    while not stop.is_set():
        sorted(data)


LOADS = {"torch": burn, "gil": hog}


def one_run(
    server: JackServer,
    run: int,
    seconds: float,
    hop: int,
    margin: int,
    native: bool,
    load_kind: str = "torch",
    wake: str = "signal",
) -> Row:
    """Engine + load thread + harness, as the loaded test does; returns the counts over the run."""
    config = EngineConfig(
        samplerate=RATE,
        hop=hop,
        margin=margin,
        native_callback=native,
        wake="poll" if wake == "poll" else "signal",
    )
    engine = Engine(config)
    engine.start()
    stop = threading.Event()
    loader = threading.Thread(target=LOADS[load_kind], args=(stop,), daemon=True)
    loader.start()
    load = os.getloadavg()[0]
    steal0 = cpu_times()
    try:
        time.sleep(1.0)
        with JackHarness(server) as bench:
            before = engine.stats()
            bench.connect_app()
            x = bench.test_signal(seconds)
            rec = bench.play_record(x, tail=0.3)
            after = engine.stats()
            jack_xruns = bench.xruns
    finally:
        stop.set()
        loader.join(timeout=10)
        engine.stop()
    steal1 = cpu_times()
    _, corr = measure_lag(x, rec[0])
    return Row(
        run,
        "C" if engine.native_callback else "Python",
        wake,
        load,
        after.xruns - before.xruns,
        jack_xruns,
        after.output_underflows - before.output_underflows,
        after.late_hops - before.late_hops,
        corr,
        steal_pct(steal0, steal1),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--hop", type=int, default=256, help="engine hop (frames)")
    parser.add_argument("--period", type=int, help="JACK period (frames; default: the hop)")
    parser.add_argument("--margin", type=int, default=0, help="the engine's safety margin (frames)")
    parser.add_argument("--wake", choices=["signal", "poll", "both"], default="signal")
    parser.add_argument(
        "--load", choices=sorted(LOADS), default="torch", help="the other thread: a torch loop or a GIL hog"
    )
    parser.add_argument(
        "--callback",
        choices=["c", "python", "both"],
        default="c",
        help="which audio callback (both: interleaved)",
    )
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # one core for the load, one for the audio path (as in the test)
    pool = JackPool()
    try:
        period = args.period or args.hop
        server = pool.get(RATE, period)
        kinds = {"c": [True], "python": [False], "both": [True, False]}[args.callback]
        wakes = ["signal", "poll"] if args.wake == "both" else [args.wake]
        rows = [
            one_run(server, r, args.seconds, args.hop, args.margin, native, args.load, wake)
            for r in range(args.runs)
            for native in kinds
            for wake in wakes
        ]
    finally:
        pool.close()
    print(
        f"hop {args.hop}, period {period} @ {RATE} Hz, margin {args.margin}, {args.seconds:g} s per run, "
        f"load: {args.load}\n"
    )
    print(
        "| run | callback | worker wake-up | load avg | host steal % | stream xruns | JACK xruns "
        "| underflows | late hops | corr |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.run} | {r.callback} | {r.wake} | {r.load:.2f} | {r.steal_pct:.2f} | {r.stream_xruns} "
            f"| {r.jack_xruns} | {r.underflows} | {r.late_hops} | {r.corr:.4f} |"
        )
    for wake in wakes:
        mine = [r for r in rows if r.wake == wake]
        late = sum(r.late_hops for r in mine)
        under = sum(r.underflows for r in mine)
        print(f"\n{wake}: {late} late hops and {under} underflows in {len(mine)} runs", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
