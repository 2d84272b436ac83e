"""Training data: slices with their features, length-bucketed distributed batches, padding collate.

One item is one prepared slice: the model-rate wave, its linear spectrogram, the content features
repeated to 100 frames/s, coarse and fine pitch. All frame-rate tensors are cut to a common length
(at most ``MAX_FRAMES``, as the reference) and the wave to that many hops.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset, Sampler

from training.config import AudioConfig
from training.losses import spectrogram

MAX_FRAMES = 900
BUCKET_BOUNDARIES = (0, 100, 200, 300, 400, 500, 600, 700, 800, 900)


@dataclass(frozen=True)
class SliceFiles:
    """Paths of one slice's wave and features."""

    name: str
    wav: Path
    content: Path
    f0_coarse: Path | None
    f0: Path | None


@dataclass
class Batch:
    """A padded batch. Frame tensors are at 100 frames/s; lengths are valid frames per item.

    phone ``[B, T, C]``, phone_lengths ``[B]``, pitch ``[B, T]`` (int64, or None for no-f0 models),
    pitchf ``[B, T]``, spec ``[B, F, T]``, spec_lengths ``[B]``, wave ``[B, 1, T*hop]``, sid ``[B]``.
    """

    phone: torch.Tensor
    phone_lengths: torch.Tensor
    pitch: torch.Tensor | None
    pitchf: torch.Tensor | None
    spec: torch.Tensor
    spec_lengths: torch.Tensor
    wave: torch.Tensor
    sid: torch.Tensor

    def to(self, device: torch.device) -> Batch:
        def mv(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=True)

        return Batch(*(mv(getattr(self, f)) for f in self.__dataclass_fields__))  # type: ignore[arg-type]


class SliceDataset(Dataset):
    """Prepared slices with their features (see :mod:`training.features` for the files)."""

    def __init__(self, items: Sequence[SliceFiles], audio: AudioConfig, f0: bool) -> None:
        self.items = list(items)
        self.audio = audio
        self.f0 = f0
        self.lengths = [self._frames(it) for it in self.items]

    def _frames(self, it: SliceFiles) -> int:
        n = sf.info(str(it.wav)).frames // self.audio.hop_length
        return min(n, MAX_FRAMES)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        it = self.items[index]
        hop = self.audio.hop_length
        wav, sr = sf.read(str(it.wav), dtype="float32")
        if sr != self.audio.sample_rate:
            raise ValueError(
                f"{it.wav} is at {sr} Hz, expected {self.audio.sample_rate}; prepare the data again"
            )
        phone = np.repeat(np.load(it.content), 2, axis=0)
        n = min(len(phone), len(wav) // hop, MAX_FRAMES)
        out: dict[str, torch.Tensor] = {}
        if self.f0:
            assert it.f0_coarse is not None and it.f0 is not None
            coarse, f0 = np.load(it.f0_coarse), np.load(it.f0)
            n = min(n, len(coarse), len(f0))
            out["pitch"] = torch.from_numpy(coarse[:n].astype(np.int64))
            out["pitchf"] = torch.from_numpy(f0[:n].astype(np.float32))
        wave = torch.from_numpy(wav[: n * hop]).unsqueeze(0)
        out["spec"] = spectrogram(wave, self.audio)[0, :, :n]
        out["wave"] = wave
        out["phone"] = torch.from_numpy(phone[:n].astype(np.float32))
        return out


def collate(items: Sequence[dict[str, torch.Tensor]]) -> Batch:
    """Zero-pads to the longest item; items keep their order (the sampler already bucketed them)."""
    lengths = torch.tensor([it["phone"].shape[0] for it in items], dtype=torch.long)
    t_max = int(lengths.max())
    hop = items[0]["wave"].shape[-1] // max(1, items[0]["phone"].shape[0])
    b = len(items)
    phone = torch.zeros(b, t_max, items[0]["phone"].shape[1])
    spec = torch.zeros(b, items[0]["spec"].shape[0], t_max)
    wave = torch.zeros(b, 1, t_max * hop)
    has_f0 = "pitch" in items[0]
    pitch = torch.zeros(b, t_max, dtype=torch.long) if has_f0 else None
    pitchf = torch.zeros(b, t_max) if has_f0 else None
    for i, it in enumerate(items):
        n = it["phone"].shape[0]
        phone[i, :n] = it["phone"]
        spec[i, :, :n] = it["spec"]
        wave[i, :, : it["wave"].shape[-1]] = it["wave"]
        if pitch is not None and pitchf is not None:
            pitch[i, :n] = it["pitch"]
            pitchf[i, :n] = it["pitchf"]
    return Batch(phone, lengths, pitch, pitchf, spec, lengths.clone(), wave, torch.zeros(b, dtype=torch.long))


class DistributedBucketSampler(Sampler[list[int]]):
    """Batches of similar length, the same number on every rank, reshuffled per epoch.

    Items fall into buckets by frame count (``boundaries``); each bucket is padded by repeating its
    items to a multiple of ``batch_size * num_replicas`` so that no rank waits for another. The
    order depends only on ``seed`` and the epoch, so a resumed run replays the same batches.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        num_replicas: int = 1,
        rank: int = 0,
        boundaries: Sequence[int] = BUCKET_BOUNDARIES,
        seed: int = 0,
    ) -> None:
        if not lengths:
            raise ValueError("no training items")
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.epoch = 0
        edges = [*boundaries, max(max(lengths), boundaries[-1]) + 1]
        buckets: list[list[int]] = [[] for _ in range(len(edges) - 1)]
        for i, n in enumerate(lengths):
            for b in range(len(edges) - 1):
                if edges[b] < n <= edges[b + 1] or (b == 0 and n <= edges[0]):
                    buckets[b].append(i)
                    break
        self.buckets = [b for b in buckets if b]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        rng = random.Random(self.seed * 100003 + self.epoch)
        total = self.batch_size * self.num_replicas
        batches: list[list[int]] = []
        for bucket in self.buckets:
            order = list(bucket)
            rng.shuffle(order)
            while len(order) % total:
                order.append(order[len(order) % len(bucket)])
            mine = order[self.rank :: self.num_replicas]
            batches.extend(mine[i : i + self.batch_size] for i in range(0, len(mine), self.batch_size))
        # Same permutation on every rank: each rank's k-th batch comes from the same bucket.
        perm = list(range(len(batches)))
        rng.shuffle(perm)
        return [batches[i] for i in perm]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
