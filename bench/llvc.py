"""LLVC speed: per-chunk compute time and RTF at chunk factors 1/2/4, one thread and all cores.

Prints a markdown table. Uses the rule weights of the reference manifest (same size as the
published model: 3.3 M values). RTF = compute time / chunk duration (below 1 is real time).
The reference's own streaming loop (``net.forward_chunk``, the procedure of ``infer_stream``) is
timed in the same run for comparison, and the planned end-to-end latency at a device rate is
printed from the engine's resampler.

    python -m bench.llvc [--seconds 4] [--device-rate 48000] [--period 128]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch

from models.llvc import LLVCVoice, load_voice
from models.llvc.testing import write_rule_checkpoint


def _time_calls(fn: Callable[[np.ndarray], object], chunks: list[np.ndarray], warmup: int = 10) -> np.ndarray:
    """``[2, n]``: wall-clock and thread CPU seconds of each call (CPU time is what the chunk cost
    this thread; on a shared machine wall time also counts waiting for a core)."""
    for c in chunks[:warmup]:
        fn(c)
    times = np.empty((2, len(chunks)))
    for i, c in enumerate(chunks):
        c0, t0 = time.thread_time(), time.perf_counter()
        fn(c)
        times[:, i] = time.perf_counter() - t0, time.thread_time() - c0
    return times


def _chunks(n_samples: int, size: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (0.05 * rng.standard_normal(n_samples)).astype(np.float32)
    return [x[i : i + size] for i in range(0, n_samples - size + 1, size)]


def bench_voice(voice: LLVCVoice, seconds: float) -> np.ndarray:
    state = voice.init_state()
    return _time_calls(lambda c: voice.step(c, state), _chunks(int(seconds * voice.sample_rate), voice.hop))


def bench_reference_loop(voice: LLVCVoice, seconds: float, factor: int) -> np.ndarray:
    """The reference loop: one ``forward_chunk`` per window (2L context + chunk) on fresh buffers."""
    net, L = voice.net, voice.config.L
    buffers = net.init_buffers(1)
    size = voice.config.chunk_len * factor + 2 * L

    def call(c: np.ndarray) -> None:
        nonlocal buffers
        with torch.inference_mode():
            _, buffers = net.forward_chunk(torch.from_numpy(c).view(1, 1, -1), buffers)

    return _time_calls(call, _chunks(int(seconds * voice.sample_rate), size))


def planned_latency_ms(voice: LLVCVoice, device_rate: int, period: int) -> dict[str, float]:
    """Algorithmic (hop + latency) + resampler delays + device periods (in + out), in ms."""
    parts = {
        "voice hop": voice.hop / voice.sample_rate * 1e3,
        "voice latency": voice.latency / voice.sample_rate * 1e3,
    }
    try:
        from dsp.resample import StreamResampler

        down = StreamResampler(device_rate, voice.sample_rate).delay / voice.sample_rate
        up = StreamResampler(voice.sample_rate, device_rate).delay / device_rate
        parts["resampler"] = (down + up) * 1e3
    except ImportError:  # engine not installed
        parts["resampler"] = float("nan")
    parts["device periods (in+out)"] = 2 * period / device_rate * 1e3
    parts["total"] = sum(parts.values())
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="audio per measurement")
    parser.add_argument("--device-rate", type=int, default=48000)
    parser.add_argument("--period", type=int, default=128)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, cfg = write_rule_checkpoint(tmp, check=False)
        voices = {
            (f, t): load_voice(ckpt, cfg, chunk_factor=f, threads=t)
            for f in (1, 2, 4)
            for t in sorted({1, cores})
        }
    print(f"load average before: {os.getloadavg()[0]:.2f} on {cores} cores, torch {torch.__version__}\n")
    header = "| path | factor | chunk (ms) | threads | median (ms) | p99 (ms) | RTF | CPU (ms) | CPU RTF |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    for (factor, threads), voice in voices.items():
        chunk_ms = voice.hop / voice.sample_rate * 1e3
        rows = [("voxshift step", bench_voice(voice, args.seconds))]
        torch.set_num_threads(threads)
        rows.append(("reference loop", bench_reference_loop(voice, args.seconds, factor)))
        for name, t in rows:
            med, p99, cpu = np.median(t[0]) * 1e3, np.percentile(t[0], 99) * 1e3, np.median(t[1]) * 1e3
            print(
                f"| {name} | {factor} | {chunk_ms:.0f} | {threads} | {med:.2f} | {p99:.2f} "
                f"| {med / chunk_ms:.2f} | {cpu:.2f} | {cpu / chunk_ms:.2f} |"
            )
    print(f"\nload average after: {os.getloadavg()[0]:.2f}\n")
    print(f"Planned end-to-end latency at {args.device_rate} Hz, period {args.period}:\n")
    print("| chunk factor | hop | LLVC latency | resampler | device periods | total (ms) |")
    print("|---|---|---|---|---|---|")
    for factor in (1, 2, 4):
        p = planned_latency_ms(voices[(factor, 1)], args.device_rate, args.period)
        print(
            f"| {factor} | {p['voice hop']:.2f} | {p['voice latency']:.2f} | {p['resampler']:.2f} "
            f"| {p['device periods (in+out)']:.2f} | {p['total']:.2f} |"
        )


if __name__ == "__main__":
    main()
