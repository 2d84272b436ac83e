"""Training throughput: steps/s and peak memory of a community-size RVC v2 40k model at batch 4.

Runs a few real optimizer steps (generator + multi-period discriminator, all losses) on random
features (1 s slices) on the CPU, and on CUDA with and without AMP when a GPU is present. Prints
a markdown table (paste into docs/readme/training.md).

    .venv/bin/python bench/train.py [--steps 3] [--batch 4] [--frames 100]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import TrainConfig
from training.data import collate
from training.discriminators import MultiPeriodDiscriminator
from training.distenv import DistEnv
from training.generator import TrainingGenerator, build_generator
from training.loop import make_state, micro_step, optimizer_step
from training.losses import spectrogram


def _batch(cfg: TrainConfig, frames: int, batch: int) -> object:
    var = cfg.variant
    items = []
    for _ in range(batch):
        wave = torch.randn(1, frames * var.audio.hop_length) * 0.1
        items.append({
            "phone": torch.randn(frames, var.content_dim), "pitch": torch.randint(1, 255, (frames,)),
            "pitchf": torch.full((frames,), 150.0), "wave": wave,
            "spec": spectrogram(wave, var.audio)[0, :, :frames],
        })  # fmt: skip
    return collate(items)


def bench(device: str, amp: str, steps: int, batch: int, frames: int) -> tuple[float, float]:
    cfg = TrainConfig(name="bench", data_dir=".", sr="40k", version="v2", amp=amp, batch_size=batch)
    var = cfg.variant
    env = DistEnv(0, 1, 0, torch.device(device))
    gen = TrainingGenerator(build_generator(var, True), var.segment_frames, var.audio.hop_length)
    state = make_state(cfg, gen, MultiPeriodDiscriminator(var.periods), env)
    b = _batch(cfg, frames, batch).to(env.device)  # type: ignore[attr-defined]
    micro_step(state, b, cfg, var, env, True)  # warm-up
    optimizer_step(state)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        micro_step(state, b, cfg, var, env, True)
        optimizer_step(state)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return steps / (time.perf_counter() - t0), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=100, help="frames per slice (100 = 1 s)")
    args = parser.parse_args()
    runs = [("cpu", "off")]
    if torch.cuda.is_available():
        runs += [("cuda", "off"), ("cuda", "bf16"), ("cuda", "fp16")]
    print("| device | AMP | batch | steps/s | peak memory (GiB) |")
    print("| --- | --- | --- | --- | --- |")
    for device, amp in runs:
        rate, peak = bench(device, amp, args.steps, args.batch, args.frames)
        print(f"| {device} | {amp} | {args.batch} | {rate:.3f} | {peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
