"""RVC training loop (DDP): State dataclass, one function per step of the loop, rank-0 saving.

Per optimizer step and for each of ``grad_accum`` micro-batches: the generator runs once; the
discriminator learns real vs. detached fake (LSGAN); the generator learns from mel L1 (x c_mel),
KL (x c_kl), feature matching and the adversarial loss, through the unwrapped discriminator and
with gradients taken only into the generator. AdamW and per-epoch ExponentialLR as the reference.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from models.rvc.net import SynthesizerTrn
from training import checkpointing
from training.config import TrainConfig, Variant
from training.data import Batch, DistributedBucketSampler, SliceDataset, collate
from training.distenv import DistEnv, all_gather_objects, mean_across
from training.events import Checkpoint, Eval, EventWriter, Progress, StepLosses
from training.generator import GenOut, TrainingGenerator, slice_frames
from training.heldout import HeldoutTracker
from training.losses import (
    discriminator_loss,
    feature_loss,
    generator_loss,
    kl_loss,
    mel_spectrogram,
    spec_to_mel,
)


@dataclass
class State:
    """Everything that changes during training (and goes into a checkpoint)."""

    gen: nn.Module
    disc: nn.Module
    optim_g: torch.optim.Optimizer
    optim_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    epoch: int = 0
    """The epoch in progress (0-based)."""
    step: int = 0
    """Optimizer steps done."""
    batch_in_epoch: int = 0
    """Optimizer steps done inside ``epoch`` (a resume skips them)."""
    tracker: HeldoutTracker = field(default_factory=HeldoutTracker)
    resumed_from: str | None = None

    @property
    def synth(self) -> SynthesizerTrn:
        """The bare synthesizer (inference network with ``enc_q``)."""
        net = unwrap(self.gen).net
        assert isinstance(net, SynthesizerTrn)
        return net

    @property
    def disc_module(self) -> nn.Module:
        return unwrap(self.disc)


def unwrap(m: nn.Module) -> nn.Module:
    inner = m.module if isinstance(m, DistributedDataParallel) else m
    assert isinstance(inner, nn.Module)
    return inner


def amp_dtype(cfg: TrainConfig) -> torch.dtype | None:
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.amp]


def make_state(cfg: TrainConfig, gen: TrainingGenerator, disc: nn.Module, env: DistEnv) -> State:
    """Optimizers, schedulers and scaler for freshly built (or pretrained) networks on ``env.device``."""
    gen, disc = gen.to(env.device), disc.to(env.device)

    def adamw(m: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.AdamW(m.parameters(), cfg.learning_rate, betas=cfg.betas, eps=cfg.eps)

    optim_g, optim_d = adamw(gen), adamw(disc)
    scaler = torch.amp.GradScaler(env.device.type, enabled=cfg.amp == "fp16")
    return State(
        gen=gen,
        disc=disc,
        optim_g=optim_g,
        optim_d=optim_d,
        sched_g=torch.optim.lr_scheduler.ExponentialLR(optim_g, gamma=cfg.lr_decay),
        sched_d=torch.optim.lr_scheduler.ExponentialLR(optim_d, gamma=cfg.lr_decay),
        scaler=scaler,
    )


def wrap_ddp(state: State, env: DistEnv) -> None:
    """Wraps both networks in DDP when running on several processes (after loading weights)."""
    if not env.distributed:
        return
    ids = [env.device.index] if env.device.type == "cuda" else None
    state.gen = DistributedDataParallel(state.gen, device_ids=ids)
    state.disc = DistributedDataParallel(state.disc, device_ids=ids)


def checkpoint_data(state: State, cfg: TrainConfig, env: DistEnv) -> dict[str, Any]:
    """The checkpoint payload; every rank must call it (RNG states are gathered)."""
    rngs = all_gather_objects(env, checkpointing.rng_state())
    return {
        "config": cfg.to_dict(),
        "net_g": state.synth.state_dict(),
        "net_d": state.disc_module.state_dict(),
        "optim_g": state.optim_g.state_dict(),
        "optim_d": state.optim_d.state_dict(),
        "sched_g": state.sched_g.state_dict(),
        "sched_d": state.sched_d.state_dict(),
        "scaler": state.scaler.state_dict(),
        "epoch": state.epoch,
        "step": state.step,
        "batch_in_epoch": state.batch_in_epoch,
        "heldout": state.tracker.to_list(),
        "world_size": env.world_size,
        "rng": rngs,
    }


def restore(state: State, data: dict[str, Any], env: DistEnv) -> None:
    """Loads a checkpoint payload into ``state`` (strict), including this rank's RNG state."""
    state.synth.load_state_dict(data["net_g"], strict=True)
    state.disc_module.load_state_dict(data["net_d"], strict=True)
    state.optim_g.load_state_dict(data["optim_g"])
    state.optim_d.load_state_dict(data["optim_d"])
    state.sched_g.load_state_dict(data["sched_g"])
    state.sched_d.load_state_dict(data["sched_d"])
    state.scaler.load_state_dict(data["scaler"])
    state.epoch, state.step = int(data["epoch"]), int(data["step"])
    state.batch_in_epoch = int(data["batch_in_epoch"])
    state.tracker = HeldoutTracker.from_list(data["heldout"])
    rngs = data["rng"]
    if len(rngs) == env.world_size:
        checkpointing.set_rng_state(rngs[env.rank])


def _autocast(cfg: TrainConfig, env: DistEnv) -> contextlib.AbstractContextManager[Any]:
    dtype = amp_dtype(cfg)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(env.device.type, dtype=dtype)


def _no_sync(m: nn.Module, sync: bool) -> contextlib.AbstractContextManager[Any]:
    return m.no_sync() if isinstance(m, DistributedDataParallel) and not sync else contextlib.nullcontext()


def micro_step(state: State, batch: Batch, cfg: TrainConfig, var: Variant, env: DistEnv, sync: bool) -> dict:
    """Forward and backward of one micro-batch for D and G; gradients accumulate (scaled)."""
    hop, seg = var.audio.hop_length, var.segment_frames
    with _no_sync(state.gen, sync), _no_sync(state.disc, sync):
        with _autocast(cfg, env):
            out: GenOut = state.gen(
                batch.phone, batch.phone_lengths, batch.pitch, batch.pitchf,
                batch.spec, batch.spec_lengths, batch.sid,
            )  # fmt: skip
        real = slice_frames(batch.wave, out.ids * hop, seg * hop)
        with _autocast(cfg, env):
            d_real, d_fake, _, _ = state.disc(real, out.wave.detach())
        loss_d, _, _ = discriminator_loss(d_real, d_fake)
        state.scaler.scale(loss_d / cfg.grad_accum).backward()
        with _autocast(cfg, env):
            _, d_fake, fmap_r, fmap_g = state.disc_module(real, out.wave)
        y_mel = slice_frames(spec_to_mel(batch.spec, var.audio), out.ids, seg)
        y_hat_mel = mel_spectrogram(out.wave.float().squeeze(1), var.audio)
        loss_mel = torch.nn.functional.l1_loss(y_mel, y_hat_mel) * cfg.c_mel
        loss_kl = kl_loss(out.z_p, out.logs_q, out.m_p, out.logs_p, out.z_mask) * cfg.c_kl
        loss_fm = feature_loss(fmap_r, fmap_g)
        loss_adv = generator_loss(d_fake)
        loss_g = loss_adv + loss_fm + loss_mel + loss_kl
        g_params = [p for p in state.gen.parameters() if p.requires_grad]
        state.scaler.scale(loss_g / cfg.grad_accum).backward(inputs=g_params)
    values = {"d": loss_d, "g": loss_g, "adv": loss_adv, "fm": loss_fm, "mel": loss_mel, "kl": loss_kl}
    return {k: float(v.detach()) for k, v in values.items()}


def optimizer_step(state: State) -> None:
    """Applies the accumulated gradients of both networks and clears them."""
    for optim in (state.optim_d, state.optim_g):
        state.scaler.step(optim)
    state.scaler.update()
    state.optim_d.zero_grad(set_to_none=True)
    state.optim_g.zero_grad(set_to_none=True)
    state.step += 1
    state.batch_in_epoch += 1


def heldout_mel(
    state: State, dataset: SliceDataset, var: Variant, env: DistEnv, seed: int
) -> tuple[float, torch.Tensor | None]:
    """Mean mel L1 of the inference path (prior + flow + decoder) on held-out slices (fixed noise),
    and the first slice's converted audio ``[N]`` (for TensorBoard)."""
    net = state.synth
    net.eval()
    total = 0.0
    sample: torch.Tensor | None = None
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        for i in range(len(dataset)):
            b = collate([dataset[i]]).to(env.device)
            audio = net.infer(b.phone, b.phone_lengths, b.pitch, b.pitchf, b.sid)[0]
            n = min(audio.shape[-1], b.wave.shape[-1]) // var.audio.hop_length * var.audio.hop_length
            ref = mel_spectrogram(b.wave[..., :n].squeeze(1), var.audio)
            hat = mel_spectrogram(audio[..., :n].float().squeeze(1), var.audio)
            total += float(torch.nn.functional.l1_loss(hat, ref))
            if sample is None:
                sample = audio[0, 0].float().cpu()
    net.train()
    return total / max(1, len(dataset)), sample


@dataclass
class LoopIO:
    """Where the loop reports: events (rank 0), TensorBoard (optional), checkpoint folder."""

    events: EventWriter
    ckpt_dir: Path
    on_best: Callable[[State], None]
    tb: Any = None
    heldout: SliceDataset | None = None


def make_loader(dataset: SliceDataset, cfg: TrainConfig, env: DistEnv) -> DataLoader:
    sampler = DistributedBucketSampler(
        dataset.lengths, cfg.batch_size, env.world_size, env.rank, seed=cfg.seed
    )
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.num_workers,
        persistent_workers=cfg.num_workers > 0,
        pin_memory=env.device.type == "cuda",
    )


def _groups(loader: DataLoader, accum: int, skip: int) -> Iterator[list[Batch]]:
    """Groups of ``accum`` batches, skipping the first ``skip`` groups (resume inside an epoch)."""
    group: list[Batch] = []
    n_group = 0
    for batch in loader:
        group.append(batch)
        if len(group) == accum:
            if n_group >= skip:
                yield group
            group, n_group = [], n_group + 1


def train(state: State, dataset: SliceDataset, cfg: TrainConfig, env: DistEnv, io: LoopIO) -> None:
    """Runs epochs from ``state.epoch`` to ``cfg.epochs`` (or ``cfg.max_steps``), saving as configured."""
    var = cfg.variant
    loader = make_loader(dataset, cfg, env)
    sampler: DistributedBucketSampler = loader.batch_sampler  # type: ignore[assignment]
    per_epoch = len(sampler) // cfg.grad_accum
    total = per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, per_epoch * cfg.epochs)
    t0, s0 = time.monotonic(), state.step
    while state.epoch < cfg.epochs and not _done(state, cfg):
        sampler.set_epoch(state.epoch)
        for group in _groups(loader, cfg.grad_accum, state.batch_in_epoch):
            losses: dict[str, float] = {}
            for i, batch in enumerate(group):
                sync = i == len(group) - 1
                losses = micro_step(state, batch.to(env.device), cfg, var, env, sync)
            optimizer_step(state)
            rate = (state.step - s0) / max(1e-9, time.monotonic() - t0)
            if state.step % cfg.log_every == 0 or state.step == s0 + 1 or _done(state, cfg):
                _log_step(state, losses, env, io, rate)
            io.events.emit(Progress("train", state.step, total, _eta(total - state.step, rate)))
            if _done(state, cfg):
                break
        if _done(state, cfg) and state.batch_in_epoch < per_epoch:
            save_checkpoint(state, cfg, env, io)
            return
        end_epoch(state, cfg, env, io)


def _done(state: State, cfg: TrainConfig) -> bool:
    return cfg.max_steps is not None and state.step >= cfg.max_steps


def _eta(remaining: int, rate: float) -> float | None:
    return remaining / rate if rate > 0 else None


def _log_step(state: State, losses: dict[str, float], env: DistEnv, io: LoopIO, rate: float) -> None:
    losses = mean_across(env, losses)
    lr = float(state.optim_g.param_groups[0]["lr"])
    io.events.emit(StepLosses(state.step, state.epoch, losses, lr, rate))
    if io.tb is not None:
        for k, v in losses.items():
            io.tb.add_scalar(f"loss/{k}", v, state.step)
        io.tb.add_scalar("lr", lr, state.step)


def end_epoch(state: State, cfg: TrainConfig, env: DistEnv, io: LoopIO) -> None:
    """Scheduler step, held-out evaluation (rank 0) and the periodic checkpoint."""
    state.sched_g.step()
    state.sched_d.step()
    state.epoch += 1
    state.batch_in_epoch = 0
    last = state.epoch >= cfg.epochs or _done(state, cfg)
    if (
        env.is_main
        and io.heldout is not None
        and len(io.heldout)
        and (state.epoch % cfg.save_every == 0 or last)
    ):
        value, sample = heldout_mel(state, io.heldout, cfg.variant, env, cfg.seed)
        if state.tracker.add(state.epoch, state.step, value):
            io.on_best(state)
        best = state.tracker.best
        assert best is not None
        io.events.emit(Eval(state.epoch, state.step, value, best[0], state.tracker.advice()))
        if io.tb is not None:
            io.tb.add_scalar("heldout/mel", value, state.step)
            if sample is not None:
                io.tb.add_audio(
                    "heldout/sample", sample, state.step, sample_rate=cfg.variant.audio.sample_rate
                )
    if state.epoch % cfg.save_every == 0 or last:
        save_checkpoint(state, cfg, env, io)


def save_checkpoint(state: State, cfg: TrainConfig, env: DistEnv, io: LoopIO) -> None:
    """All ranks gather RNG states; rank 0 writes the file and reports it."""
    data = checkpoint_data(state, cfg, env)
    if env.is_main:
        path = checkpointing.save(data, io.ckpt_dir, state.step, cfg.keep_checkpoints)
        io.events.emit(Checkpoint(str(path), state.step, state.epoch))
        if io.tb is not None:
            io.tb.flush()
