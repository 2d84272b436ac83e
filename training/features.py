"""Per-slice features, extracted once and resumable: pitch (f0 in Hz and coarse 1..255) and content
features (HuBERT layer 9 + final_proj for v1, layer 12 for v2).

Layout under ``<exp>/features``::

    f0_<method>/<slice>.npy        f0 in Hz at 100 frames/s (float32), 0 = unvoiced
    coarse_<method>/<slice>.npy    coarse pitch 1..255 (int16)
    content_<version>/<slice>.npy  content features at 50 frames/s [T, 256|768] (float32)

Slice names carry the content key of their source, so a file that exists is always up to date;
each file is written atomically, so a killed run redoes at most the slice it was on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from models.kinds import RvcVersion
from training.data import SliceFiles
from training.fsutil import atomic_path
from training.preprocess import PreparedSet

F0Fn = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono float32 ``[N]`` -> f0 in Hz ``[N // 160 + 1]`` (100 frames/s)."""
ContentFn = Callable[[np.ndarray], np.ndarray]
"""16 kHz mono float32 ``[N]`` -> content features ``[T, C]`` at 50 frames/s."""


@dataclass(frozen=True)
class FeatureDirs:
    root: Path
    f0_method: str
    version: str

    @property
    def f0(self) -> Path:
        return self.root / f"f0_{self.f0_method}"

    @property
    def coarse(self) -> Path:
        return self.root / f"coarse_{self.f0_method}"

    @property
    def content(self) -> Path:
        return self.root / f"content_{self.version}"

    def files(self, prepared: PreparedSet, name: str, f0: bool) -> SliceFiles:
        return SliceFiles(
            name=name,
            wav=prepared.gt(name),
            content=self.content / f"{name}.npy",
            f0_coarse=self.coarse / f"{name}.npy" if f0 else None,
            f0=self.f0 / f"{name}.npy" if f0 else None,
        )


def make_f0_fn(method: str, model_path: str | None, device: torch.device) -> F0Fn:
    """The pitch tracker of :mod:`models.pitch` as a plain function."""
    from models.pitch import create_tracker

    tracker: Any = create_tracker(method, device=device, rmvpe_path=model_path)

    def f0(wav16k: np.ndarray) -> np.ndarray:
        return np.asarray(tracker.f0(wav16k), dtype=np.float32)

    return f0


def make_content_fn(path: str, version: RvcVersion, device: torch.device) -> ContentFn:
    """HuBERT/ContentVec from :mod:`models.content`: layer 9 + final_proj (v1) or layer 12 (v2)."""
    from models.content import load_content_encoder

    enc = load_content_encoder(path, device=device)
    layer, final_proj = version.content_layer, version.final_proj

    def content(wav16k: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(wav16k).unsqueeze(0)
        return enc.extract(x, layer, final_proj)[0].float().cpu().numpy()

    return content


def coarse_pitch(f0: np.ndarray) -> np.ndarray:
    """Coarse pitch 1..255 of RVC (mel scale between 50 and 1100 Hz; 1 = unvoiced)."""
    from models.pitch import coarse_pitch as _coarse

    return np.asarray(_coarse(f0)).astype(np.int16)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def extract_features(
    prepared: PreparedSet,
    names: Sequence[str],
    dirs: FeatureDirs,
    content_fn: ContentFn,
    f0_fn: F0Fn | None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Extracts what is missing for ``names``; returns how many slices needed work."""
    worked = 0
    for i, name in enumerate(names):
        want = dirs.files(prepared, name, f0_fn is not None)
        todo_f0 = f0_fn is not None and not (want.f0 and want.f0.is_file() and want.f0_coarse.is_file())  # type: ignore[union-attr]
        todo_content = not want.content.is_file()
        if todo_f0 or todo_content:
            wav, sr = sf.read(str(prepared.wav16k(name)), dtype="float32")
            if sr != 16000:
                raise ValueError(f"{prepared.wav16k(name)} is not at 16 kHz; prepare the data again")
            if todo_f0 and f0_fn is not None and want.f0 is not None and want.f0_coarse is not None:
                f0 = f0_fn(wav)
                _save_npy(want.f0, f0.astype(np.float32))
                _save_npy(want.f0_coarse, coarse_pitch(f0))
            if todo_content:
                _save_npy(want.content, content_fn(wav).astype(np.float32))
            worked += 1
        if progress is not None:
            progress(i + 1, len(names))
    return worked
