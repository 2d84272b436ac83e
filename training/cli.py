"""Entry module that torchrun starts on every process: ``python -m training.cli rvc --config F``.

Stages (events on stdout from rank 0): prepare (rank 0 slices the recordings), features (split
across ranks), train (DDP), export and index (rank 0). Every stage skips finished work, so a rerun
of the same command continues where the previous one stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from models.errors import VoxshiftError
from training import checkpointing, features
from training.config import TrainConfig
from training.data import SliceDataset
from training.discriminators import MultiPeriodDiscriminator
from training.distenv import DistEnv, barrier, init_distributed, shutdown
from training.events import Done, Error, EventWriter, Progress, Stage
from training.export import build_index, export_voice, gather_features
from training.fsutil import atomic_torch_save, atomic_write_text
from training.generator import TrainingGenerator, build_generator
from training.loop import LoopIO, State, make_state, restore, train, wrap_ddp
from training.preprocess import PreparedSet, SliceConfig, prepare_dataset
from training.pretrained import load_pretrained
from training.report import scan_dataset


def _progress(events: EventWriter, stage: str):  # type: ignore[no-untyped-def]
    def report(done: int, total: int) -> None:
        events.emit(Progress(stage, done, total))

    return report


def stage_prepare(cfg: TrainConfig, env: DistEnv, events: EventWriter) -> PreparedSet:
    """Rank 0 scans and slices; the others wait and read the slice list."""
    root = cfg.exp_dir / "prepared"
    listing = root / "slices.json"
    if env.is_main:
        events.emit(Stage("prepare", "checking the recordings"))
        report = scan_dataset(cfg.data_dir)
        events.emit(Stage("prepare", report.summary()))
        if not report.ok:
            raise VoxshiftError(f"no usable audio in {cfg.data_dir}; give a folder of recordings")
        slicing = SliceConfig(sample_rate=cfg.variant.audio.sample_rate, slice_seconds=cfg.slice_seconds)
        prepared = prepare_dataset(report, root, slicing, _progress(events, "prepare"))
        if not prepared.names:
            raise VoxshiftError(
                f"the recordings in {cfg.data_dir} contain no speech louder than the silence level"
            )
        atomic_write_text(listing, json.dumps(prepared.names))
    barrier(env)
    return PreparedSet(root, json.loads(listing.read_text(encoding="utf-8")), 0)


def stage_features(
    cfg: TrainConfig, env: DistEnv, events: EventWriter, prepared: PreparedSet
) -> features.FeatureDirs:
    """Each rank extracts its share of the missing features."""
    dirs = features.FeatureDirs(cfg.exp_dir / "features", cfg.f0_method, cfg.version)
    events.emit(Stage("features", f"pitch ({cfg.f0_method}) and content features ({cfg.version})"))
    if cfg.content_encoder is None:
        raise VoxshiftError("no content encoder given: pass --content-encoder hubert_base.pt")
    content_fn = features.make_content_fn(cfg.content_encoder, cfg.variant.version, env.device)
    f0_fn = features.make_f0_fn(cfg.f0_method, cfg.pitch_model, env.device) if cfg.f0 else None
    mine = prepared.names[env.rank :: env.world_size]
    features.extract_features(prepared, mine, dirs, content_fn, f0_fn, _progress(events, "features"))
    barrier(env)
    return dirs


def build_state(cfg: TrainConfig, env: DistEnv) -> State:
    """Networks (pretrained weights when given), optimizers; nothing from a checkpoint yet."""
    var = cfg.variant
    net = build_generator(var, cfg.f0)
    disc = MultiPeriodDiscriminator(var.periods, var.disc_scale)
    what = f"{var.version.value} {var.sr_key} {'with' if cfg.f0 else 'without'} f0 ({cfg.preset})"
    if cfg.pretrained_g is not None and cfg.pretrained_d is not None:
        load_pretrained(cfg.pretrained_g, net, "generator", what)
        load_pretrained(cfg.pretrained_d, disc, "discriminator", what)
    gen = TrainingGenerator(net, var.segment_frames, var.audio.hop_length, cfg.grad_checkpoint)
    return make_state(cfg, gen, disc, env)


def resume(state: State, cfg: TrainConfig, env: DistEnv, ckpt_dir: Path) -> None:
    loaded = checkpointing.load_latest(ckpt_dir)
    if loaded is None:
        return
    saved = loaded.data["config"]
    changed = [k for k in TrainConfig.ARCH_FIELDS if saved.get(k) != getattr(cfg, k)]
    if changed:
        raise checkpointing.ResumeError(
            f"{cfg.exp_dir} holds a run with other {', '.join(changed)}; use another --name or --out"
        )
    restore(state, loaded.data, env)
    state.resumed_from = str(loaded.path)


def _tensorboard(cfg: TrainConfig, env: DistEnv):  # type: ignore[no-untyped-def]
    if not env.is_main:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(cfg.exp_dir / "tensorboard"))


def split_heldout(names: Sequence[str], n: int) -> tuple[list[str], list[str]]:
    """Every k-th slice is held out (at most a quarter of them); the rest trains."""
    n = min(n, len(names) // 4)
    if n == 0:
        return list(names), []
    step = len(names) // n
    held = set(names[::step][:n])
    return [x for x in names if x not in held], [x for x in names if x in held]


def run_rvc(cfg: TrainConfig, env: DistEnv, events: EventWriter) -> int:
    torch.manual_seed(cfg.seed + env.rank)
    state = build_state(cfg, env)
    prepared = stage_prepare(cfg, env, events)
    dirs = stage_features(cfg, env, events, prepared)
    train_names, held_names = split_heldout(prepared.names, cfg.heldout)
    var = cfg.variant
    dataset = SliceDataset([dirs.files(prepared, n, cfg.f0) for n in train_names], var.audio, cfg.f0)
    heldout = SliceDataset([dirs.files(prepared, n, cfg.f0) for n in held_names], var.audio, cfg.f0)
    ckpt_dir = cfg.exp_dir / "checkpoints"
    resume(state, cfg, env, ckpt_dir)
    message = (
        f"resumed from {state.resumed_from} at step {state.step}" if state.resumed_from else "from scratch"
    )
    if state.resumed_from is None and cfg.pretrained_g:
        message = f"from pretrained {Path(cfg.pretrained_g).name}"
    events.emit(Stage("train", f"{message}; epoch {state.epoch}, step {state.step}"))
    wrap_ddp(state, env)

    def on_best(s: State) -> None:
        atomic_torch_save({"model": s.synth.state_dict(), "epoch": s.epoch}, ckpt_dir / "best_G.pt")

    io = LoopIO(events, ckpt_dir, on_best, _tensorboard(cfg, env), heldout)
    train(state, dataset, cfg, env, io)
    if env.is_main:
        outputs = stage_export(cfg, state, dirs, prepared, train_names, events)
        events.emit(Done(outputs, state.tracker.advice()))
    barrier(env)
    return 0


def stage_export(
    cfg: TrainConfig, state: State, dirs: features.FeatureDirs, prepared: PreparedSet,
    names: Sequence[str], events: EventWriter,
) -> dict[str, str]:  # fmt: skip
    """Voice file(s) and index into the experiment folder (rank 0)."""
    var = cfg.variant
    events.emit(Stage("export", "writing the voice file"))
    out = {"checkpoint_dir": str(cfg.exp_dir / "checkpoints")}
    info = f"{state.epoch}epoch"
    out["voice"] = str(
        export_voice(state.synth.state_dict(), var, cfg.f0, cfg.exp_dir / f"{cfg.name}.pth", info)
    )
    best = state.tracker.best
    best_file = cfg.exp_dir / "checkpoints" / "best_G.pt"
    if best is not None and best[0] != state.epoch and best_file.is_file():
        sd = torch.load(best_file, map_location="cpu", weights_only=True)["model"]
        path = cfg.exp_dir / f"{cfg.name}_e{best[0]}.pth"
        out["best_voice"] = str(export_voice(sd, var, cfg.f0, path, f"{best[0]}epoch"))
    if cfg.index:
        events.emit(Stage("index", "building the retrieval index"))
        feats = gather_features([dirs.files(prepared, n, cfg.f0).content for n in names])
        out["index"] = str(build_index(feats, cfg.exp_dir, cfg.name, cfg.version))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.cli", description=__doc__)
    parser.add_argument("job", choices=("rvc", "llvc"))
    parser.add_argument("--config", required=True, help="JSON settings written by `voxshift train`")
    args = parser.parse_args(argv)
    data = json.loads(Path(args.config).read_text(encoding="utf-8"))
    events = EventWriter(enabled=False)
    env: DistEnv | None = None
    try:
        if args.job == "rvc":
            cfg = TrainConfig.from_dict(data)
            env = init_distributed(cfg.device)
            events.enabled = env.is_main
            return run_rvc(cfg, env, events)
        from training.distill import DistillConfig, run_distill

        dcfg = DistillConfig.from_dict(data)
        env = init_distributed(dcfg.device)
        events.enabled = env.is_main
        return run_distill(dcfg, env, events)
    except VoxshiftError as exc:
        events.enabled = env is None or env.is_main
        events.emit(Error(str(exc), type(exc).__name__))
        return 1
    finally:
        if env is not None:
            shutdown(env)


if __name__ == "__main__":
    sys.exit(main())
