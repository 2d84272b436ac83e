"""Noise suppression: what RNNoise does to speech in recorded-style noise, and what it costs.

espeak-ng sentences (three voices and pitches) are mixed with white, pink, keyboard-click and
mains-hum noise at 0, 10 and 20 dB SNR and run through the engine's input stage
(``audio/denoise.py``, "strong" and "light", 48 kHz, 10 ms hops). For each noise and SNR it
prints the SNR against the clean sentence before and after (the output compared at the stage's
claimed lag) and the median f0 error in cents on the frames the clean sentence is voiced (YIN,
``benchkit.pitch_accuracy.f0_track``) before and after, and the CPU time per 10 ms hop.

    .venv/bin/python -m bench.denoise [--strengths strong light] [--snrs 0 10 20]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audio.denoise import NoiseStage
from audio.worker import VoicePipeline
from benchkit.pitch_accuracy import f0_track
from benchkit.signals import mix_at_snr, noise, speech

RATE, HOP = 48000, 480
VOICES = (("en", 40, 0), ("en+f3", 60, 1), ("en-us+m3", 30, 2))  # (espeak voice, pitch, sentence)
NOISES = ("white", "pink", "clicks", "hum")


def snr_db(reference: np.ndarray, y: np.ndarray) -> float:
    err = (y - reference).astype(np.float64)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(1e-20, float(np.sum(err**2)))))


def f0_error_cents(clean: np.ndarray, y: np.ndarray) -> float:
    """Median |f0(y) - f0(clean)| in cents over the frames voiced in the clean signal."""
    f_ref, voiced = f0_track(clean, RATE)
    f_y, _ = f0_track(y, RATE)
    n = min(len(f_ref), len(f_y))
    mask = voiced[:n] & (f_ref[:n] > 0) & (f_y[:n] > 0)
    if not mask.any():
        return float("nan")
    return float(np.median(np.abs(1200 * np.log2(f_y[:n][mask] / f_ref[:n][mask]))))


def run(strength: str, x: np.ndarray) -> tuple[np.ndarray, float, int]:
    """(the stage's output aligned to its input, CPU seconds per hop, lag)."""
    pipe = VoicePipeline(NoiseStage(strength), RATE, HOP)  # type: ignore[arg-type]
    n = len(x) // HOP * HOP
    outs = []
    cpu0 = time.thread_time()
    for i in range(0, n, HOP):
        outs.append(pipe.process(x[i : i + HOP], "wet"))
    cpu = (time.thread_time() - cpu0) / (n // HOP)
    y = np.concatenate(outs)
    lag = round(pipe.lag)
    return y[lag:], cpu, lag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strengths", nargs="+", default=["strong", "light"])
    parser.add_argument("--snrs", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    args = parser.parse_args()
    sentences = [speech(RATE, sentence=s, voice=v, pitch=p) for v, p, s in VOICES]
    load = os.getloadavg()[0]
    print(f"48 kHz, 10 ms hops; {len(sentences)} espeak-ng sentences per row; load average {load:.1f}\n")
    print(
        "| noise | SNR in dB | strength | SNR out dB | gain dB | f0 error in (cents) | f0 error out | "
        "CPU per 10 ms hop |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    clean_f0 = [f0_error_cents(c, c) for c in sentences]  # 0 by definition: a sanity check
    assert all(e == 0.0 or np.isnan(e) for e in clean_f0)
    for kind in NOISES:
        for snr in args.snrs:
            noisy = [mix_at_snr(c, noise(kind, RATE, len(c), seed=i), snr) for i, c in enumerate(sentences)]
            for strength in args.strengths:
                before, after, f_before, f_after, cpus = [], [], [], [], []
                for clean, mixed in zip(sentences, noisy, strict=True):
                    y, cpu, _ = run(strength, mixed)
                    m = len(y)
                    before.append(snr_db(clean[:m], mixed[:m]))
                    after.append(snr_db(clean[:m], y))
                    f_before.append(f0_error_cents(clean[:m], mixed[:m]))
                    f_after.append(f0_error_cents(clean[:m], y))
                    cpus.append(cpu)
                b, a = float(np.mean(before)), float(np.mean(after))
                f0_in, f0_out, cpu_ms = np.nanmean(f_before), np.nanmean(f_after), np.median(cpus) * 1e3
                print(
                    f"| {kind} | {snr:.0f} | {strength} | {a:.1f} | {a - b:+.1f} | {f0_in:.0f} | "
                    f"{f0_out:.0f} | {cpu_ms:.2f} ms |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
