"""Engine benchmark: per-hop processing time, RTF, planned and measured latency through JACK.

Starts its own ``jackd -d dummy`` (one per hop size, period = hop) and streams seeded noise
through the real engine for passthrough and every built-in voice, at hop sizes 128/256/512 at
48 kHz. "lag" is measured by the harness to the sample (capture -> playback in the JACK graph);
"engine" is that lag minus JACK's own lag at the period (a plain PortAudio passthrough stream).
Prints a markdown table.

    .venv/bin/python -m bench.engine [--seconds 4] [--hops 128 256 512] [--voices passthrough shift]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.config import EngineConfig
from audio.engine import Engine
from benchkit.jackbench import JackHarness, JackPool, measure_lag
from models.base import PassthroughVoice, Voice

RATE = 48000


@dataclass
class Row:
    voice: str
    hop: int
    median_ms: float
    p99_ms: float
    rtf: float
    planned_ms: float
    lag_ms: float
    engine_ms: float
    self_ms: float
    late: int
    xruns: int
    corr: float


def builtin_names() -> list[str]:
    try:
        builtin = importlib.import_module("models.builtin")
        return [info.name for info in builtin.list_voices() if info.name != "passthrough"]
    except (ImportError, AttributeError):
        return []


def make_voice(name: str, hop: int) -> Voice:
    if name == "passthrough":
        return PassthroughVoice(RATE, hop)
    voice: Voice = importlib.import_module("models.builtin").create_voice(name, sample_rate=RATE, hop=hop)
    return voice


def measure(pool: JackPool, name: str, hop: int, seconds: float, prefill: int) -> Row:
    server = pool.get(RATE, hop)
    engine = Engine(EngineConfig(samplerate=RATE, hop=hop, margin=prefill), make_voice(name, hop))
    engine.start()
    try:
        time.sleep(0.5)
        with JackHarness(server) as bench:
            bench.connect_app()
            x = bench.test_signal(seconds)
            before = engine.stats()
            rec = bench.play_record(x, tail=0.3)
            stats = engine.stats()
            device_lag = bench.device_lag
    finally:
        engine.stop()
    lag, corr = measure_lag(x, rec[0])
    times = stats.hop_times * 1e3
    return Row(
        voice=name,
        hop=hop,
        median_ms=float(np.median(times)),
        p99_ms=float(np.percentile(times, 99)),
        rtf=stats.rtf,
        planned_ms=stats.planned.total * 1e3,
        lag_ms=lag / RATE * 1e3,
        engine_ms=(lag - device_lag) / RATE * 1e3,
        self_ms=(stats.measured_latency or float("nan")) * 1e3,
        late=stats.late_hops - before.late_hops,
        xruns=stats.xruns - before.xruns,
        corr=corr,
    )


def table(rows: list[Row]) -> str:
    head = (
        "| voice | hop | hop time median ms | p99 ms | RTF | planned ms | measured lag ms | engine part ms "
        "| self-measured ms | late hops | xruns | corr |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    body = [
        f"| {r.voice} | {r.hop} | {r.median_ms:.3f} | {r.p99_ms:.3f} | {r.rtf:.3f} | {r.planned_ms:.2f} "
        f"| {r.lag_ms:.2f} | {r.engine_ms:.2f} | {r.self_ms:.2f} | {r.late} | {r.xruns} | {r.corr:+.3f} |"
        for r in rows
    ]
    return "\n".join([head, *body])


def main() -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--hops", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--voices", nargs="+", help="default: passthrough and every built-in voice")
    parser.add_argument("--prefill", type=int, default=256, help="engine prefill in frames (default 256)")
    args = parser.parse_args()
    voices = args.voices or ["passthrough", *builtin_names()]
    pool = JackPool()
    rows = []
    try:
        for hop in args.hops:
            for name in voices:
                rows.append(measure(pool, name, hop, args.seconds, args.prefill))
                print(f"done {name} hop {hop}", file=sys.stderr)
    finally:
        pool.close()
    print(f"48 kHz, JACK dummy driver with period = hop, prefill {args.prefill} frames\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
