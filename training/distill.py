"""LLVC distillation: a causal ~15 ms LLVC student learns to imitate the user's RVC voice.

1. Parallel data: every slice of a speech corpus (16 kHz) is converted by the teacher, any callable
   ``wav16k [N] -> wav16k [N]`` (by default the reference RVC pipeline with the user's voice);
   results are cached by content key, so a rerun converts only new files.
2. Training: random aligned segments; the student (``models.llvc`` net) is trained with
   multi-resolution mel L1 plus the multi-period discriminator's adversarial and feature-matching
   losses (as the LLVC paper), under DDP like the RVC loop.
3. Export: ``<name>.pth`` (``{"model", "epoch", "step", "optimizer", "learning_rate"}``, the LLVC
   checkpoint layout) and ``config.json`` next to it, which ``models.llvc.load_voice`` reads.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.errors import VoxshiftError
from training import checkpointing
from training.config import ConfigError
from training.discriminators import MultiPeriodDiscriminator
from training.distenv import DistEnv, all_gather_objects, barrier, mean_across
from training.events import Checkpoint, Done, EventWriter, Progress, Stage, StepLosses
from training.fsutil import atomic_path, atomic_torch_save, atomic_write_text
from training.losses import discriminator_loss, feature_loss, generator_loss, multi_resolution_mel_loss
from training.preprocess import PreparedSet, SliceConfig, prepare_dataset, resample
from training.report import scan_dataset

Teacher = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono float32 ``[N]`` -> the teacher voice's conversion, 16 kHz ``[N]``."""
SR = 16000
MEL_RESOLUTIONS = ((512, 128, 80), (1024, 256, 80), (2048, 512, 80))


@dataclass(frozen=True)
class DistillConfig:
    """An LLVC distillation job."""

    name: str
    teacher: str
    """The RVC voice file (.pth) to imitate."""
    corpus: str
    """Folder of speech (any speakers) converted by the teacher to make parallel data."""
    out_dir: str = "runs"
    content_encoder: str | None = None
    pitch_model: str | None = None
    f0_method: str = "rmvpe"
    index: str | None = None
    epochs: int = 100
    batch_size: int = 8
    save_every: int = 5
    keep_checkpoints: int = 2
    learning_rate: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.99)
    c_mel: float = 45.0
    segment_seconds: float = 1.0
    """Length of the random training segments."""
    preset: str = "community"
    """community: the published LLVC size; tiny: for tests."""
    max_steps: int | None = None
    device: str = "auto"
    seed: int = 1234
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.preset not in ("community", "tiny"):
            raise ConfigError(f"preset must be community or tiny, got {self.preset!r}")
        if min(self.epochs, self.batch_size, self.save_every) < 1:
            raise ConfigError("epochs, batch and save-every must be at least 1")
        if not self.name or any(c in self.name for c in "/\\:"):
            raise ConfigError(f"name must be a plain file name, got {self.name!r}")

    @property
    def exp_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistillConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown distillation settings: {', '.join(unknown)}")
        values = dict(data)
        values["betas"] = tuple(values.get("betas", (0.8, 0.99)))
        return cls(**values)


def write_distill_job(cfg: DistillConfig) -> Path:
    """Resolves the shared model files, checks the inputs and writes ``job.json``."""
    from models.files import HUBERT, RMVPE, require
    from training.launch import write_job

    if not Path(cfg.teacher).is_file():
        raise ConfigError(f"the teacher voice {cfg.teacher} does not exist")
    if not Path(cfg.corpus).is_dir():
        raise ConfigError(f"the corpus folder {cfg.corpus} does not exist")
    changes: dict[str, Any] = {"content_encoder": str(require(HUBERT, cfg.content_encoder))}
    if cfg.f0_method == "rmvpe":
        changes["pitch_model"] = str(require(RMVPE, cfg.pitch_model))
    cfg = dataclasses.replace(cfg, **changes)
    return write_job(cfg.exp_dir, cfg.to_dict(), ("preset",))


def student_config(preset: str) -> Any:
    """The LLVC config of the student (the published size, or a tiny one for tests)."""
    from models.llvc.config import ConvNetConfig, LLVCConfig

    if preset == "tiny":
        conv = ConvNetConfig(out_channels=(4, 1), kernel_sizes=(3, 3), dilations=(1, 2))
        return LLVCConfig(enc_dim=32, dec_dim=16, num_enc_layers=2, convnet_config=conv)
    return LLVCConfig()


def config_json(cfg: Any) -> dict[str, Any]:
    """The reference ``config.json`` layout (``model_params`` + ``data.sr``) for an LLVCConfig."""
    params = dataclasses.asdict(cfg)
    for key in ("sample_rate", "nhead", "pos_enc_max_len"):
        params.pop(key, None)
    conv = params["convnet_config"]
    for key in ("out_channels", "kernel_sizes", "dilations"):
        conv[key] = list(conv[key])
    return {"model_params": params, "data": {"sr": cfg.sample_rate}}


def rvc_teacher(cfg: DistillConfig, device: torch.device) -> Teacher:
    """The RVC voice as a teacher: the reference offline pipeline (``models.rvc.inference``),
    with the voice's index when given, back to 16 kHz and to the input's length."""
    from models.rvc.inference import open_pipeline

    if cfg.content_encoder is None:
        raise VoxshiftError("the teacher needs --content-encoder hubert_base.pt")
    pipe = open_pipeline(
        cfg.teacher, cfg.content_encoder, cfg.pitch_model, cfg.index, cfg.f0_method, device=str(device)
    )

    def convert(wav16k: np.ndarray) -> np.ndarray:
        y, rate = pipe.convert_array(wav16k, SR)
        y = resample(np.asarray(y, dtype=np.float32), rate, SR)
        return np.pad(y, (0, max(0, len(wav16k) - len(y))))[: len(wav16k)]

    return convert


def make_parallel(
    prepared: PreparedSet, names: list[str], teacher: Teacher, out: Path, events: EventWriter
) -> None:
    """Converts the slices that have no teacher output yet (atomic files named like the slices)."""
    for i, name in enumerate(names):
        target = out / f"{name}.wav"
        if not target.is_file():
            x, _ = sf.read(str(prepared.gt(name)), dtype="float32")
            y = teacher(x).astype(np.float32)
            with atomic_path(target, suffix=".wav") as tmp:
                sf.write(str(tmp), y, SR, subtype="FLOAT", format="WAV")
        events.emit(Progress("teacher", i + 1, len(names)))


class PairDataset(torch.utils.data.Dataset):
    """Random aligned segments ``(source [1, S], target [1, S])``; the draw depends on the epoch."""

    def __init__(self, sources: list[Path], targets: list[Path], segment: int) -> None:
        self.sources, self.targets, self.segment = sources, targets, segment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, _ = sf.read(str(self.sources[i]), dtype="float32")
        y, _ = sf.read(str(self.targets[i]), dtype="float32")
        n = min(len(x), len(y))
        rng = random.Random(i * 7919 + self.epoch)
        start = rng.randrange(0, max(1, n - self.segment + 1))
        xs, ys = np.zeros(self.segment, np.float32), np.zeros(self.segment, np.float32)
        m = min(self.segment, n - start)
        xs[:m], ys[:m] = x[start : start + m], y[start : start + m]
        return torch.from_numpy(xs)[None], torch.from_numpy(ys)[None]


@dataclass
class DistillState:
    student: nn.Module
    disc: nn.Module
    optim_g: torch.optim.Optimizer
    optim_d: torch.optim.Optimizer
    epoch: int = 0
    step: int = 0

    def bare(self, m: nn.Module) -> nn.Module:
        inner = m.module if isinstance(m, DistributedDataParallel) else m
        assert isinstance(inner, nn.Module)
        return inner


def _state(cfg: DistillConfig, env: DistEnv) -> tuple[DistillState, Any]:
    from models.llvc.net import LLVCNet

    scfg = student_config(cfg.preset)
    student = LLVCNet(scfg).to(env.device)
    disc = MultiPeriodDiscriminator((2, 3, 5, 7, 11), 1.0 if cfg.preset == "community" else 1 / 16).to(
        env.device
    )

    def adamw(m: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(m.parameters(), cfg.learning_rate, betas=cfg.betas)

    return DistillState(student, disc, adamw(student), adamw(disc)), scfg


def _step(st: DistillState, x: torch.Tensor, y: torch.Tensor, cfg: DistillConfig) -> dict[str, float]:
    y_hat = st.student(x)
    d_real, d_fake, _, _ = st.disc(y, y_hat.detach())
    loss_d, _, _ = discriminator_loss(d_real, d_fake)
    st.optim_d.zero_grad(set_to_none=True)
    loss_d.backward()
    st.optim_d.step()
    _, d_fake, fmap_r, fmap_g = st.bare(st.disc)(y, y_hat)
    loss_mel = multi_resolution_mel_loss(y_hat.squeeze(1), y.squeeze(1), SR, MEL_RESOLUTIONS) * cfg.c_mel
    loss_fm, loss_adv = feature_loss(fmap_r, fmap_g), generator_loss(d_fake)
    loss_g = loss_mel + loss_fm + loss_adv
    st.optim_g.zero_grad(set_to_none=True)
    loss_g.backward(inputs=[p for p in st.student.parameters() if p.requires_grad])
    st.optim_g.step()
    st.step += 1
    values = {"d": loss_d, "g": loss_g, "mel": loss_mel, "fm": loss_fm, "adv": loss_adv}
    return {k: float(v.detach()) for k, v in values.items()}


def _save(st: DistillState, cfg: DistillConfig, env: DistEnv, events: EventWriter) -> None:
    rngs = all_gather_objects(env, checkpointing.rng_state())
    if not env.is_main:
        return
    data = {
        "config": cfg.to_dict(), "net_g": st.bare(st.student).state_dict(),
        "net_d": st.bare(st.disc).state_dict(), "optim_g": st.optim_g.state_dict(),
        "optim_d": st.optim_d.state_dict(), "epoch": st.epoch, "step": st.step, "rng": rngs,
    }  # fmt: skip
    path = checkpointing.save(data, cfg.exp_dir / "checkpoints", st.step, cfg.keep_checkpoints)
    events.emit(Checkpoint(str(path), st.step, st.epoch))


def _resume(st: DistillState, cfg: DistillConfig, env: DistEnv) -> None:
    loaded = checkpointing.load_latest(cfg.exp_dir / "checkpoints")
    if loaded is None:
        return
    d = loaded.data
    st.student.load_state_dict(d["net_g"], strict=True)
    st.disc.load_state_dict(d["net_d"], strict=True)
    st.optim_g.load_state_dict(d["optim_g"])
    st.optim_d.load_state_dict(d["optim_d"])
    st.epoch, st.step = int(d["epoch"]), int(d["step"])
    if len(d["rng"]) == env.world_size:
        checkpointing.set_rng_state(d["rng"][env.rank])


def export_llvc(st: DistillState, scfg: Any, cfg: DistillConfig) -> Path:
    """``<exp>/<name>.pth`` in the LLVC checkpoint layout plus ``config.json`` beside it."""
    path = cfg.exp_dir / f"{cfg.name}.pth"
    atomic_write_text(cfg.exp_dir / "config.json", json.dumps(config_json(scfg), indent=2))
    payload = {
        "model": st.bare(st.student).state_dict(), "epoch": st.epoch, "step": st.step,
        "optimizer": st.optim_g.state_dict(), "learning_rate": cfg.learning_rate,
    }  # fmt: skip
    atomic_torch_save(payload, path)
    return path


def _prepare(
    cfg: DistillConfig, env: DistEnv, events: EventWriter, teacher: Teacher | None
) -> tuple[list, list]:
    root = cfg.exp_dir / "corpus"
    listing = root / "slices.json"
    if env.is_main:
        teacher = teacher or rvc_teacher(cfg, env.device)  # a wrong teacher file fails before any work
        events.emit(Stage("prepare", f"slicing the corpus {cfg.corpus}"))
        report = scan_dataset(cfg.corpus)
        if not report.ok:
            raise VoxshiftError(f"no usable audio in {cfg.corpus}")
        prepared = prepare_dataset(report, root, SliceConfig(sample_rate=SR))
        atomic_write_text(listing, json.dumps(prepared.names))
        events.emit(Stage("teacher", "converting the corpus with the RVC voice"))
        make_parallel(prepared, prepared.names, teacher, root / "teacher", events)
    barrier(env)
    names = json.loads(listing.read_text(encoding="utf-8"))
    pset = PreparedSet(root, names, 0)
    return [pset.gt(n) for n in names], [root / "teacher" / f"{n}.wav" for n in names]


def run_distill(cfg: DistillConfig, env: DistEnv, events: EventWriter, teacher: Teacher | None = None) -> int:
    """The whole distillation job on one rank (``teacher`` overrides the RVC voice, e.g. in tests)."""
    torch.manual_seed(cfg.seed + env.rank)
    sources, targets = _prepare(cfg, env, events, teacher)
    st, scfg = _state(cfg, env)
    _resume(st, cfg, env)
    events.emit(Stage("distill", f"epoch {st.epoch}, step {st.step}"))
    if env.distributed:
        ids = [env.device.index] if env.device.type == "cuda" else None
        st.student = DistributedDataParallel(st.student, device_ids=ids)
        st.disc = DistributedDataParallel(st.disc, device_ids=ids)
    dataset = PairDataset(sources, targets, _segment(cfg, scfg))
    sampler: torch.utils.data.DistributedSampler = torch.utils.data.DistributedSampler(
        dataset, env.world_size, env.rank, shuffle=True, seed=cfg.seed, drop_last=False
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler)
    first = st.step
    while st.epoch < cfg.epochs and not (cfg.max_steps is not None and st.step >= cfg.max_steps):
        sampler.set_epoch(st.epoch)
        dataset.epoch = st.epoch
        for x, y in loader:
            losses = _step(st, x.to(env.device), y.to(env.device), cfg)
            if st.step % cfg.log_every == 0 or st.step == first + 1:
                events.emit(StepLosses(st.step, st.epoch, mean_across(env, losses), cfg.learning_rate))
            if cfg.max_steps is not None and st.step >= cfg.max_steps:
                break
        st.epoch += 1
        if st.epoch % cfg.save_every == 0 or st.epoch >= cfg.epochs or st.step >= (cfg.max_steps or 1 << 62):
            _save(st, cfg, env, events)
    if env.is_main:
        path = export_llvc(st, scfg, cfg)
        events.emit(Done({"voice": str(path), "config": str(cfg.exp_dir / "config.json")}))
    barrier(env)
    return 0


def _segment(cfg: DistillConfig, scfg: Any) -> int:
    chunk = scfg.dec_chunk_size * scfg.L
    return max(chunk, int(cfg.segment_seconds * SR) // chunk * chunk)
