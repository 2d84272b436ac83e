"""``voxshift train rvc|llvc``: train a voice from recordings, or distil an RVC voice into LLVC.

Both run as separate processes under torchrun and resume when rerun with the same --name and --output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.cli.options import add_f0_method, add_model_files, add_output_dir, hidden_alias
from models.errors import VoxshiftError

EPILOG = """examples:
  voxshift train rvc --data ~/recordings --name alice --content-encoder hubert_base.pt \\
      --pitch-model rmvpe.pt --pretrained-g f0G40k.pth --pretrained-d f0D40k.pth
  voxshift train rvc --data ~/recordings --name alice --devices cuda:0,1 --amp bf16
  voxshift train rvc --data rec --name t --preset tiny --epochs 1 --f0-method dsp \\
      --content-encoder hubert_base.pt                (a tiny model for smoke tests)
  voxshift train rvc ... --nnodes 2 --rdzv-endpoint host1:29400   (run on each machine)
  voxshift train llvc --teacher runs/alice/alice.pth --corpus ~/speech --name alice-llvc \\
      --content-encoder hubert_base.pt
  voxshift train report --data ~/recordings         (check a dataset, train nothing)
rerun the same command to resume after an interruption."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train an RVC voice or distil it into a low-latency LLVC voice",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="train_job", metavar="JOB", required=True)
    _add_rvc(sub)
    _add_llvc(sub)
    report = sub.add_parser("report", help="check a folder of recordings")
    report.add_argument("--data", required=True, help="folder of recordings")
    parser.set_defaults(func=run)


def _add_launch(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("processes (torchrun)")
    g.add_argument("--devices", default="auto", help="cpu, cuda or cuda:0,1 (default: CUDA if available)")
    g.add_argument("--nproc", type=int, default=None, help="processes on this machine (default: one per GPU)")
    g.add_argument("--nnodes", type=int, default=1, help="machines taking part (needs --rdzv-endpoint)")
    g.add_argument("--rdzv-endpoint", default=None, help="host:port of torchrun's rendezvous")
    g.add_argument("--json", action="store_true", help="print the raw JSON-lines events")


def _add_rvc(sub: argparse._SubParsersAction) -> None:
    from training.config import settings_help

    # argparse formats help with %-interpolation: a literal % (e.g. "~30% slower") must be doubled
    why = {k: h.replace("%", "%%") for k, (_, h) in settings_help().items()}
    p = sub.add_parser("rvc", help="train an RVC voice from recordings", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--data", required=True, help=why["data_dir"])
    p.add_argument("--name", required=True, help=why["name"])
    add_output_dir(p, "runs", why["out_dir"])
    p.add_argument("--sr", default="40k", choices=("32k", "40k", "48k"), help=why["sr"])
    p.add_argument("--model-version", default="v2", choices=("v1", "v2"), help=why["version"])
    hidden_alias(
        p, "--version", dest="model_version", choices=("v1", "v2")
    )  # `voxshift --version` is another thing
    add_f0_method(p, why["f0_method"])
    p.add_argument("--no-f0", action="store_true", help="train a model without pitch guidance")
    p.add_argument("--epochs", type=int, default=200, help=why["epochs"])
    p.add_argument("--batch", type=int, default=4, help=why["batch_size"])
    p.add_argument("--save-every", type=int, default=5, help=why["save_every"])
    p.add_argument("--pretrained-g", default=None, help=why["pretrained_g"])
    p.add_argument("--pretrained-d", default=None, help=why["pretrained_d"])
    add_model_files(p, "the models folder")
    p.add_argument(
        "--amp", nargs="?", const="bf16", default="off", choices=("off", "bf16", "fp16"), help=why["amp"]
    )
    p.add_argument("--grad-accum", type=int, default=1, help=why["grad_accum"])
    p.add_argument("--grad-checkpoint", action="store_true", help=why["grad_checkpoint"])
    p.add_argument("--preset", default="community", choices=("community", "tiny"), help=why["preset"])
    p.add_argument("--max-steps", type=int, default=None, help=why["max_steps"])
    p.add_argument("--no-index", action="store_true", help="do not build the retrieval index")
    _add_launch(p)


def _add_llvc(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("llvc", help="distil an RVC voice into a causal LLVC voice", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--teacher", required=True, help="the RVC voice file (.pth) to imitate")
    p.add_argument("--corpus", required=True, help="folder of any speech (many speakers is best)")
    p.add_argument("--name", required=True, help="name of the LLVC voice")
    add_output_dir(p, "runs", "where the experiment folder goes; rerunning with the same folder resumes")
    add_model_files(p, "the models folder")
    add_f0_method(p, "the teacher's pitch tracker (default rmvpe)")
    p.add_argument("--index", default=None, help="the teacher's retrieval index (optional)")
    p.add_argument("--epochs", type=int, default=100, help="passes over the corpus (default 100)")
    p.add_argument("--batch", type=int, default=8, help="segments per step per device (default 8)")
    p.add_argument("--save-every", type=int, default=5, help="write a checkpoint every N epochs (default 5)")
    p.add_argument("--preset", default="community", choices=("community", "tiny"),
                   help="model size: community (the published LLVC size) or tiny (tests)")  # fmt: skip
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    _add_launch(p)


def run(args: argparse.Namespace) -> int:
    try:
        if args.train_job == "report":
            from training.report import scan_dataset

            report = scan_dataset(args.data)
            print(report.summary())
            return 0 if report.ok else 1
        return _launch(args)
    except VoxshiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _launch(args: argparse.Namespace) -> int:
    from training.launch import LaunchConfig, parse_devices, run_job, torchrun_command

    kind, gpus = parse_devices(args.devices)
    nproc = args.nproc or (len(gpus) if gpus else _visible_gpus() if kind == "cuda" else 1)
    launch = LaunchConfig(nproc, gpus, args.nnodes, args.rdzv_endpoint, args.name)
    path = _write_rvc(args, kind) if args.train_job == "rvc" else _write_llvc(args, kind)
    cmd = torchrun_command(args.train_job, path, launch)
    from app.cli.train_progress import EventPrinter
    from training.launch import launch_env

    printer = EventPrinter(raw=args.json)
    rc = run_job(cmd, launch_env(launch), printer.on_event, printer.on_line)
    printer.close()
    if rc != 0 and not printer.failed:
        print(f"error: training stopped (exit code {rc}); rerun the same command to resume", file=sys.stderr)
    return 1 if rc != 0 or printer.failed else 0


def _visible_gpus() -> int:
    import torch

    return max(1, torch.cuda.device_count())


def _write_rvc(args: argparse.Namespace, kind: str) -> Path:
    from training.config import TrainConfig
    from training.launch import write_train_job

    cfg = TrainConfig(
        name=args.name, data_dir=args.data, out_dir=args.out, sr=args.sr, version=args.model_version,
        f0=not args.no_f0, f0_method=args.f0_method, preset=args.preset, epochs=args.epochs,
        batch_size=args.batch, save_every=args.save_every, amp=args.amp, grad_accum=args.grad_accum,
        grad_checkpoint=args.grad_checkpoint, pretrained_g=args.pretrained_g, pretrained_d=args.pretrained_d,
        content_encoder=args.content_encoder, pitch_model=args.pitch_model, max_steps=args.max_steps,
        index=not args.no_index, device=kind,
    )  # fmt: skip
    return write_train_job(cfg)


def _write_llvc(args: argparse.Namespace, kind: str) -> Path:
    from training.distill import DistillConfig, write_distill_job

    cfg = DistillConfig(
        name=args.name, teacher=args.teacher, corpus=args.corpus, out_dir=args.out,
        content_encoder=args.content_encoder, pitch_model=args.pitch_model, f0_method=args.f0_method,
        index=args.index, epochs=args.epochs, batch_size=args.batch, save_every=args.save_every,
        preset=args.preset, max_steps=args.max_steps, device=kind,
    )  # fmt: skip
    return write_distill_job(cfg)
