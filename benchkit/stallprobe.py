"""Host-stall probe for the JACK tests and ``bench/hostjitter.py``: was the CPU there at all?

On a virtual machine the host may not run a virtual CPU for milliseconds at a time; no thread in
the guest, realtime or not, keeps an audio period then, and JACK reports xruns whatever its
clients do. :class:`StallProbe` runs ``benchkit/stallprobe.c`` (built here with the system C
compiler) while a ``with`` block runs and collects every late wake-up of its realtime threads.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

from audio.native import find_compiler

SOURCE = Path(__file__).with_name("stallprobe.c")


def build() -> Path:
    """Compile ``benchkit/stallprobe.c`` once per source version (as the engine's C callback is)."""
    source = SOURCE.read_bytes()
    exe = Path(tempfile.gettempdir()) / f"voxshift-stallprobe-{hashlib.sha256(source).hexdigest()[:12]}"
    if exe.exists():
        return exe
    cc = find_compiler()
    if cc is None:
        raise RuntimeError("no C compiler to build benchkit/stallprobe.c (apt-get install gcc)")
    tmp = exe.with_name(f"{exe.name}.{os.getpid()}.tmp")
    subprocess.run([cc, "-O2", "-o", str(tmp), str(SOURCE), "-lpthread"], check=True)
    tmp.replace(exe)
    return exe


class StallProbe:
    """Which CPU stalls the host caused while the ``with`` block ran.

    A realtime thread per CPU (above JACK's priorities) wakes every 1 ms; a late wake-up means the
    CPU ran nothing for that long, which only the host (a virtual CPU not being run) can cause. A
    JACK cycle breaks when one of its threads is held off for about a period; if no CPU stalled for
    half a period (:meth:`quiet_for`), an xrun in the block is the audio path's own. With
    ``keep_awake`` a SCHED_IDLE thread spins on each CPU as well, so none halts when idle.
    """

    def __init__(self, keep_awake: bool = False) -> None:
        self.keep_awake = keep_awake
        self.stalls_ms: list[float] = []
        self.realtime = False
        self.seconds = 0.0
        self._proc: subprocess.Popen[str] | None = None
        self._t0 = 0

    def __enter__(self) -> StallProbe:
        cmd = [str(build())] + (["awake"] if self.keep_awake else [])
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        time.sleep(0.1)  # its threads are up and pinned
        self._t0 = time.monotonic_ns()
        return self

    def __exit__(self, *exc: object) -> None:
        t1 = time.monotonic_ns()
        self.seconds = (t1 - self._t0) / 1e9
        assert self._proc is not None
        out, _ = self._proc.communicate("", timeout=30)
        lines = out.splitlines()
        self.realtime = bool(lines) and lines[0] == "rt 1"
        for line in lines[1:]:
            _cpu, due, woke = (int(v) for v in line.split())
            if woke >= self._t0 and due <= t1:
                self.stalls_ms.append((woke - due) / 1e6)

    @property
    def longest_ms(self) -> float:
        return max(self.stalls_ms, default=0.0)

    def count_over(self, ms: float) -> int:
        return sum(v > ms for v in self.stalls_ms)

    def quiet_for(self, period: int, rate: int) -> bool:
        """True if the probe ran at realtime priority and no CPU stalled for half a ``period``.

        Half, not a whole period: a cycle can meet two stalls in turn (the server's thread on one
        CPU, then a client's on the other), and only two halves are sure to stay under a period.
        """
        return self.realtime and self.longest_ms <= 0.5e3 * period / rate

    def __str__(self) -> str:
        rt = "" if self.realtime else " (probe not realtime: no verdict)"
        return f"longest CPU stall {self.longest_ms:.1f} ms, {self.count_over(1.0)} over 1 ms{rt}"
