"""Per-call CPU time of the content encoder and pitch trackers at realtime RVC block sizes.

Builds rule-weight ``hubert_base.pt`` / ``rmvpe.pt`` (community size) in a temp folder unless
paths are given, then prints a markdown table: median milliseconds per call over ``--runs``
calls (after warm-up) for 1 and 2 threads.

    python -m bench.encoders [--hubert PATH] [--rmvpe PATH] [--threads 1 2] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference"


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, float]:
    """(wall, process CPU) milliseconds per call, medians. On a loaded machine the 1-thread CPU
    time is the better estimate of the uncontended wall time."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1000 * statistics.median(wall), 1000 * statistics.median(cpu)


def build_files(folder: Path) -> tuple[Path, Path]:
    from models.content.testing import write_rule_hubert
    from models.pitch.testing import write_rule_rmvpe

    hubert = write_rule_hubert(folder / "hubert_base.pt", REFERENCE / "manifest_hubert_base.json")
    rmvpe = write_rule_rmvpe(folder / "rmvpe.pt", REFERENCE / "manifest_rmvpe.json")
    return hubert, rmvpe


def cases(hubert_path: Path, rmvpe_path: Path) -> list[tuple[str, Callable[[], object]]]:
    from models.content import load_content_encoder
    from models.pitch import create_tracker, load_rmvpe

    rng = np.random.default_rng(0)
    x075 = (0.1 * rng.standard_normal(12000)).astype(np.float32)  # 0.75 s
    x_rt = (0.1 * rng.standard_normal(12960)).astype(
        np.float32
    )  # realtime HuBERT buffer (block .25 + extra .5)
    x_f0 = x_rt[-4960:]  # realtime RMVPE slice (32 frames)
    enc = load_content_encoder(hubert_path)
    rmvpe = load_rmvpe(rmvpe_path)
    fcpe = create_tracker("fcpe")
    dsp = create_tracker("dsp")
    t075, t_rt = torch.from_numpy(x075)[None], torch.from_numpy(x_rt)[None]
    return [
        ("HuBERT layer 12 (v2), 0.75 s", lambda: enc.extract(t075, 12)),
        ("HuBERT layer 9 + final_proj (v1), 0.75 s", lambda: enc.extract(t075, 9, True)),
        ("HuBERT layer 12, realtime buffer 12960 samples", lambda: enc.extract(t_rt, 12)),
        ("RMVPE f0, 0.75 s", lambda: rmvpe.f0(x075)),
        ("RMVPE f0, realtime slice 4960 samples", lambda: rmvpe.f0(x_f0)),
        ("FCPE f0, 0.75 s", lambda: fcpe.f0(x075)),
        ("DSP (YIN) f0, 0.75 s", lambda: dsp.f0(x075)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hubert", type=Path)
    ap.add_argument("--rmvpe", type=Path)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        hubert, rmvpe = (args.hubert, args.rmvpe) if args.hubert and args.rmvpe else build_files(Path(tmp))
        work = cases(hubert, rmvpe)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in work}
        for n in args.threads:
            torch.set_num_threads(n)
            for name, fn in work:
                results[name].append(median_ms(fn, args.runs))
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"torch {torch.__version__}, CPU float32, median of {args.runs} calls, "
        f"ms wall (ms CPU); load average {load}\n"
    )
    print("| call | " + " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in args.threads) + " |")
    print("|---|" + "---:|" * len(args.threads))
    for name, values in results.items():
        print(f"| {name} | " + " | ".join(f"{w:.1f} ({c:.1f})" for w, c in values) + " |")


if __name__ == "__main__":
    main()
