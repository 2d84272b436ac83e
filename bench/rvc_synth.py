"""Benchmark of the RVC synthesizer alone (the realtime tail-only call), community size.

Builds a rule-weight voice file (v2 40k by default), loads it through ``models.rvc.load_voice``
and times ``infer(..., skip_head, return_length)`` the way the realtime path calls it: the
encoder sees extra context + crossfade + search + block, the decoder only the new part.
Prints a markdown table. The whole realtime pipeline (content, pitch, retrieval, SOLA) is
benchmarked by ``bench/rvc.py``.

    OMP_NUM_THREADS=2 python bench/rvc_synth.py --threads 2
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.kinds import RvcVersion
from models.rvc import ZERO_NOISE, load_voice, variant
from models.rvc.testing import write_voice_file


def _time_call(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--version", default="v2", choices=[v.value for v in RvcVersion])
    ap.add_argument("--rate", type=int, default=40000)
    ap.add_argument("--blocks", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    ap.add_argument("--extra", type=float, default=0.5, help="extra left context in seconds")
    ap.add_argument("--crossfade", type=float, default=0.05)
    ap.add_argument("--search", type=float, default=0.01)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = variant(RvcVersion(args.version), args.rate, True)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_voice_file(Path(tmp) / "bench.pth", cfg)
        voice = load_voice(path, device=args.device)
    syn = voice.synthesizer
    dev = torch.device(args.device)
    print(f"RVC {args.version} {args.rate // 1000}k synthesizer, rule weights, {dev}, {voice.dtype}, "
          f"{args.threads} thread(s), extra {args.extra} s, crossfade {args.crossfade} s\n")  # fmt: skip
    print("| block (s) | frames in | frames out | synthesis ms (median) | min ms | RTF | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for block in args.blocks:
        out_frames = round((block + args.crossfade + args.search) * 100)
        skip = round(args.extra * 100)
        frames = skip + out_frames
        x = {
            "phone": torch.randn(1, frames, cfg.content_dim, device=dev),
            "phone_lengths": torch.tensor([frames], device=dev),
            "pitch": torch.randint(1, 256, (1, frames), device=dev),
            "pitchf": torch.full((1, frames), 160.0, device=dev),
            "sid": torch.tensor([0], device=dev),
        }

        def call(x: dict[str, torch.Tensor] = x, skip: int = skip, n: int = out_frames) -> None:
            syn.infer(**x, skip_head=skip, return_length=n, noise=ZERO_NOISE)

        with torch.inference_mode():
            times = _time_call(call, args.repeats)
        med = statistics.median(times)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {block} | {frames} | {out_frames} | {med * 1000:.0f} | {min(times) * 1000:.0f} "
              f"| {med / block:.2f} | {rss:.0f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
