"""Benchmark of the realtime RVC voice (and optionally offline conversion memory) on CPU.

Builds community-size rule-weight files (RVC v2 40k, HuBERT base, RMVPE) once into a cache
folder, then runs each configuration in a fresh subprocess (so peak memory is its own) and
prints a markdown table: per-block time split (resample, content, retrieval, pitch, synthesis,
SOLA), total, RTF (block time / real time) and peak RSS.

    python bench/rvc.py                      # blocks 0.1/0.25/0.5 s, rmvpe and fcpe, 2 threads
    python bench/rvc.py --blocks 0.25 --f0 rmvpe --threads 2 --extra 0.5
    python bench/rvc.py --offline 60         # + offline conversion of a 60 s file: time, peak RSS
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "fixtures" / "reference"
STAGES = ("resample", "content", "retrieval", "pitch", "synthesis", "sola")


def build_models(cache: Path) -> dict[str, Path]:
    """Rule-weight community files (written once)."""
    from models.content.testing import write_rule_hubert
    from models.pitch.testing import write_rule_rmvpe
    from models.rvc.testing import write_voice_file
    from models.testing import load_manifest

    cache.mkdir(parents=True, exist_ok=True)
    files = {"voice": cache / "v2_40k.pth", "hubert": cache / "hubert_base.pt", "rmvpe": cache / "rmvpe.pt"}
    if not files["voice"].exists():
        write_voice_file(files["voice"], manifest=load_manifest(REFERENCE / "manifest_rvc_v2_f0_40k.json"))
    if not files["hubert"].exists():
        write_rule_hubert(files["hubert"], REFERENCE / "manifest_hubert_base.json")
    if not files["rmvpe"].exists():
        write_rule_rmvpe(files["rmvpe"], REFERENCE / "manifest_rmvpe.json")
    return files


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_realtime(args: argparse.Namespace) -> dict[str, float]:
    """One configuration in this process: mean ms per stage over the measured blocks."""
    import numpy as np
    import torch

    from models.base import VoiceParams
    from models.rvc.inference import open_realtime_voice
    from models.rvc.realtime import RealtimeConfig

    torch.set_num_threads(args.threads)
    files = build_models(Path(args.cache))
    voice = open_realtime_voice(
        files["voice"],
        files["hubert"],
        files["rmvpe"],
        REFERENCE / "pipeline_v2_40k.index",
        RealtimeConfig(block_time=args.block, extra_time=args.extra, crossfade_time=min(0.05, args.block)),
        VoiceParams(pitch=3, index_rate=0.75, f0_method=args.f0),
    )
    voice.warmup(2)
    core = voice.core
    core.clock = time.perf_counter
    state = voice.init_state()
    rng = np.random.default_rng(0)
    t = np.arange(voice.hop) / voice.sample_rate
    sums = dict.fromkeys((*STAGES, "total", "cpu"), 0.0)
    for i in range(args.warmup + args.n):
        x = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(voice.hop)).astype(np.float32)
        start, cpu0 = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            out = core.process(x, state, voice.params)
            mid = time.perf_counter()
            state.sola.process(out)
        end, cpu1 = time.perf_counter(), time.process_time()
        if i < args.warmup:
            continue
        for k, v in (core.trace.times or {}).items():
            sums[k] += v
        sums["sola"] += end - mid
        sums["total"] += end - start
        sums["cpu"] += cpu1 - cpu0
    result = {k: 1000 * v / args.n for k, v in sums.items()}
    result["rtf"] = result["total"] / (1000 * args.block)
    result["peak_mb"] = peak_rss_mb()
    return result


def run_offline(args: argparse.Namespace) -> dict[str, float]:
    """Offline conversion of an ``args.offline``-second synthetic file: seconds and peak RSS."""
    import numpy as np
    import torch

    from models.memory import tune_for_file_conversion
    from models.rvc.inference import open_pipeline

    tune_for_file_conversion()  # as 'voxshift convert' does
    torch.set_num_threads(args.threads)
    files = build_models(Path(args.cache))
    pipe = open_pipeline(
        files["voice"], files["hubert"], files["rmvpe"], REFERENCE / "pipeline_v2_40k.index", args.f0
    )
    sr = 16000
    n = int(args.offline * sr)
    t = np.arange(n) / sr
    x = (0.3 * np.sin(2 * np.pi * (150 + 30 * np.sin(2 * np.pi * 0.3 * t)) * t)).astype(np.float32)
    del t
    base = peak_rss_mb()
    start = time.perf_counter()
    y, rate = pipe.convert_array(x, sr)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rtf": seconds / args.offline,
        "peak_mb": peak_rss_mb(),
        "before_mb": base,
        "out_seconds": len(y) / rate,
    }


def child(args: argparse.Namespace) -> None:
    result = run_offline(args) if args.offline else run_realtime(args)
    print("RESULT " + json.dumps(result))


def spawn(args: argparse.Namespace, **over: object) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--threads",
        str(args.threads),
        "--cache",
        args.cache,
        "--n",
        str(args.n),
        "--warmup",
        str(args.warmup),
        "--extra",
        str(args.extra),
    ]
    for k, v in over.items():
        cmd += [f"--{k}", str(v)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            parsed: dict[str, float] = json.loads(line[7:])
            return parsed
    raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    p.add_argument("--f0", nargs="+", default=["rmvpe", "fcpe"])
    p.add_argument("--extra", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--n", type=int, default=5, help="measured blocks")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--offline", type=float, default=0.0, help="also convert a file of this many seconds")
    p.add_argument("--no-realtime", action="store_true", help="only the offline measurement")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "voxshift-bench"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--block", type=float, default=0.25, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if isinstance(args.f0, list):
            args.f0 = args.f0[0]
        child(args)
        return 0
    sys.path.insert(0, str(ROOT))
    build_models(Path(args.cache))
    print(
        f"Realtime RVC v2 40k (rule weights, community size), CPU, {args.threads} threads, "
        f"extra {args.extra} s, crossfade 0.05 s, index 3000x768; wall ms per block (mean of {args.n}); "
        "CPU ms = process CPU time per block, all threads (not inflated by waiting for a busy CPU); "
        f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    print("| block s | f0 | " + " | ".join(STAGES) + " | total | CPU ms | RTF | peak RSS MB |")
    print("|---" * (len(STAGES) + 6) + "|")
    for f0 in [] if args.no_realtime else args.f0:
        for block in args.blocks:
            r = spawn(args, block=block, f0=f0)
            cells = " | ".join(f"{r[s]:.0f}" for s in STAGES)
            print(
                f"| {block:g} | {f0} | {cells} | {r['total']:.0f} | {r['cpu']:.0f} "
                f"| {r['rtf']:.2f} | {r['peak_mb']:.0f} |",
                flush=True,
            )
    if args.offline:
        r = spawn(args, offline=args.offline, f0=args.f0[0])
        print(
            f"\nOffline conversion of {args.offline:g} s ({args.f0[0]}): {r['seconds']:.1f} s "
            f"(RTF {r['rtf']:.2f}), peak RSS {r['peak_mb']:.0f} MB (models loaded: {r['before_mb']:.0f} MB)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
