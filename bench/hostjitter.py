"""Host wake-up benchmark: can this machine run an audio period on time at all? (Linux)

A JACK cycle needs its server thread and every client thread to run within one period (2.67 ms at
128 frames, 5.33 ms at 256, 48 kHz); if any of them is not run for longer, JACK reports an xrun,
whatever the clients do. This measures what the host allows: one realtime (SCHED_FIFO 80) thread
per CPU wakes every 1 ms (the JACK tests' ``StallProbe``, ``benchkit/stallprobe.c``, built with the
system C compiler) and records how late each wake-up was, together with the share of CPU time the
hypervisor took ("steal" in ``/proc/stat``). A realtime thread preempts every ordinary thread at
once, so lateness here is the CPU itself being away: on a virtual machine, the host not running
the virtual CPU.

Two modes, interleaved: ``idle`` (CPUs halt when idle) and ``awake`` (a SCHED_IDLE thread spins on
each CPU so none halts, as the kernel's ``idle=poll`` would; on a VM a halted virtual CPU can take
milliseconds to be woken). Prints a markdown table: per mode and round, late wake-ups per second
over 1 ms and over the 128- and 256-frame periods, the worst one, and the steal share.

    .venv/bin/python -m bench.hostjitter [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PERIODS_MS = {"128": 128 / 48, "256": 256 / 48}


@dataclass
class Row:
    mode: str
    round: int
    realtime: bool
    over_1ms: float  # per second
    over_128: float
    over_256: float
    worst_ms: float
    steal_pct: float


def cpu_times() -> tuple[int, int]:
    """(steal, total) jiffies of all CPUs from /proc/stat; (0, 0) where there is none."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return 0, 0
    fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def steal_pct(start: tuple[int, int], end: tuple[int, int]) -> float:
    """Percent of CPU time the hypervisor took between two :func:`cpu_times` readings."""
    return 100.0 * (end[0] - start[0]) / max(1, end[1] - start[1])


def measure(seconds: float, awake: bool, rnd: int) -> Row:
    from benchkit.stallprobe import StallProbe

    start = cpu_times()
    with StallProbe(keep_awake=awake) as probe:
        time.sleep(seconds)
    end = cpu_times()
    return Row(
        "awake" if awake else "idle",
        rnd,
        probe.realtime,
        probe.count_over(1.0) / probe.seconds,
        probe.count_over(PERIODS_MS["128"]) / probe.seconds,
        probe.count_over(PERIODS_MS["256"]) / probe.seconds,
        probe.longest_ms,
        steal_pct(start, end),
    )


def main() -> int:
    if not sys.platform.startswith("linux"):
        print("bench.hostjitter measures Linux scheduling (clock_nanosleep, SCHED_FIFO, /proc/stat)")
        return 2
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="idle/awake pairs, interleaved")
    args = parser.parse_args()
    rows = [measure(args.seconds, awake, r) for r in range(args.rounds) for awake in (False, True)]
    cpus = os.cpu_count()
    print(f"{cpus} CPUs, one SCHED_FIFO probe per CPU waking every 1 ms, {args.seconds:g} s per row\n")
    print(
        "| mode | round | realtime | late > 1 ms /s | late > 2.67 ms (128) /s "
        "| late > 5.33 ms (256) /s | worst ms | host steal % |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.mode} | {r.round} | {'yes' if r.realtime else 'NO'} | {r.over_1ms:.1f} "
            f"| {r.over_128:.1f} | {r.over_256:.2f} | {r.worst_ms:.1f} | {r.steal_pct:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
