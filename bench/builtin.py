"""Built-in voice benchmark: per-hop cost of ``voice.step`` and pitch accuracy on espeak-ng speech.

Per-hop time is measured on one thread on a buzzy harmonic test tone (every hop voiced, the
worst case for PSOLA) for every built-in voice at hops 128/256/512 at 48 kHz. Accuracy is
``benchkit.pitch_accuracy`` (librosa: yin f0, pyin voicing), as in
tests/models/test_builtin_accuracy.py. Prints markdown tables.

    .venv/bin/python -m bench.builtin [--seconds 4] [--no-accuracy]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchkit.signals import harmonic
from models.builtin import create_voice, voice_names

RATE = 48000


def step_times(name: str, hop: int, x: np.ndarray) -> np.ndarray:
    """Seconds per ``step`` call over ``x`` (after a warm-up)."""
    voice = create_voice(name, sample_rate=RATE, hop=hop)
    voice.warmup()
    state = voice.init_state()
    times = []
    for i in range(0, len(x) - hop + 1, hop):
        t0 = time.perf_counter()
        _, state = voice.step(x[i : i + hop], state)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def timing_table(seconds: float) -> str:
    x = harmonic(RATE, seconds, f0=160.0)
    lines = [
        "| voice | hop | latency ms | median µs | p99 µs | max µs | RTF |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in voice_names():
        for hop in (128, 256, 512):
            t = step_times(name, hop, x)
            lat = create_voice(name, RATE, hop).latency / RATE * 1000
            rtf = t.sum() / (len(t) * hop / RATE)
            lines.append(
                f"| {name} | {hop} | {lat:.2f} | {np.median(t) * 1e6:.0f} | "
                f"{np.percentile(t, 99) * 1e6:.0f} | {t.max() * 1e6:.0f} | {rtf:.3f} |"
            )
    return "\n".join(lines)


def accuracy_table() -> str:
    from scipy import signal

    from benchkit.pitch_accuracy import SHIFTS, cents_errors, espeak, f0_track

    lines = [
        "| input | shift st | frames | median cents | p90 cents | steady p90 cents |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for label, args in (("espeak-ng -p 70", ["-p", "70"]), ("espeak-ng default", [])):
            x, sr = espeak(args, Path(tmp))
            x48 = signal.resample_poly(x, RATE, sr).astype(np.float32)
            f_in, _ = f0_track(x48, RATE)
            steady = np.abs(np.gradient(1200 * np.log2(np.maximum(f_in, 1.0)))) < 15
            errors = cents_errors(x48, RATE, create_voice("shift", RATE, 256), SHIFTS, steady)
            for semis, (err, st) in errors.items():
                lines.append(
                    f"| {label} | {semis:+g} | {len(err)} | {np.median(err):.1f} | "
                    f"{np.percentile(err, 90):.1f} | {np.percentile(err[st], 90):.1f} |"
                )
    return "\n".join(lines)


def main() -> int:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args()
    print(timing_table(args.seconds))
    if not args.no_accuracy:
        print()
        print(accuracy_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
