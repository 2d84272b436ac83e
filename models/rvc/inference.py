"""Wiring: open a voice file + index + shared encoders into an offline pipeline or a realtime voice.

``open_pipeline(...)`` -> :class:`RvcPipeline` (``convert_array(x, sr) -> (y, sr_out)``) for
``models.offline`` and ``voxshift convert``; ``open_realtime_voice(...)`` -> a streaming
:class:`RvcRealtimeVoice` for the engine. Pitch trackers are created lazily per method.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.base import F0_METHODS, VoiceParams
from models.errors import VoxshiftError
from models.retrieval import load_index_or_none
from models.rvc.pipeline import F0Estimator, PipelineConfig, RvcPipeline
from models.rvc.realtime import RealtimeConfig, RealtimeCore, RvcRealtimeVoice

log = logging.getLogger(__name__)

RMVPE_THRESHOLD = 0.03
"""RVC's voicing threshold for RMVPE (offline and realtime)."""
FCPE_THRESHOLD = 0.006


class MissingModelError(VoxshiftError):
    """A shared model file (HuBERT/ContentVec, RMVPE) is needed but was not found."""


@dataclass(frozen=True)
class SharedModels:
    """Paths of the shared encoder files every RVC voice needs."""

    hubert: Path
    rmvpe: Path | None = None


def _frames(f0: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad (unvoiced) or cut a tracker's output to ``1 + n // 160`` frames."""
    n = 1 + n_samples // 160
    f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    if len(f0) >= n:
        return f0[:n]
    return np.pad(f0, (0, n - len(f0)))


def rmvpe_estimator(path: str | Path, device: str = "cpu") -> F0Estimator:
    """RMVPE at threshold 0.03, as RVC uses it."""
    from models.pitch import load_rmvpe

    rmvpe = load_rmvpe(path, device=device)

    def estimate(x: np.ndarray) -> np.ndarray:
        return _frames(rmvpe.f0(x, RMVPE_THRESHOLD), len(x))

    return estimate


def fcpe_estimator(device: str = "cpu") -> F0Estimator:
    """torchfcpe's bundled model, local argmax decoding, threshold 0.006 (the reference's call)."""
    from torchfcpe import spawn_bundled_infer_model

    model = spawn_bundled_infer_model(device)

    def estimate(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            f0 = model.infer(
                torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, :, None].to(device),
                sr=16000,
                decoder_mode="local_argmax",
                threshold=FCPE_THRESHOLD,
            )
        return _frames(f0.squeeze().cpu().numpy(), len(x))

    return estimate


def make_f0_factory(rmvpe_path: str | Path | None, device: str = "cpu") -> Callable[[str], F0Estimator]:
    """``method -> estimator``: rmvpe (needs ``rmvpe.pt``), fcpe (bundled), others via ``models.pitch``."""

    def factory(method: str) -> F0Estimator:
        if method not in F0_METHODS:
            raise ValueError(f"unknown f0 method {method!r}; choose one of {', '.join(F0_METHODS)}")
        if method == "rmvpe":
            if rmvpe_path is None or not Path(rmvpe_path).is_file():
                raise MissingModelError(
                    f"the rmvpe pitch tracker needs rmvpe.pt (not found: {rmvpe_path}); "
                    "run 'voxshift models' to see where to put it, or use --f0-method fcpe"
                )
            return rmvpe_estimator(rmvpe_path, device)
        if method == "fcpe":
            return fcpe_estimator(device)
        return _tracker_estimator(method, device)

    return factory


def _tracker_estimator(method: str, device: str) -> F0Estimator:
    """Other methods (crepe, dsp) through the pitch package's common tracker interface."""
    import models.pitch as pitch

    create: Any = getattr(pitch, "create_tracker", None)
    if create is None:
        raise MissingModelError(f"the {method} pitch tracker is not available in this build")
    tracker = create(method)

    def estimate(x: np.ndarray) -> np.ndarray:
        return _frames(tracker.f0(x), len(x))

    return estimate


def _load_parts(voice_path: str | Path, hubert_path: str | Path, device: str) -> tuple[Any, Any]:
    from models.content import load_content_encoder
    from models.rvc.loader import load_voice

    if not Path(hubert_path).is_file():
        raise MissingModelError(
            f"RVC voices need the content encoder hubert_base.pt (not found: {hubert_path}); "
            "run 'voxshift models' to see where to put it"
        )
    model = load_voice(voice_path, device=device)
    if model.is_training_checkpoint:
        log.info("%s is a training checkpoint; using its generator", Path(voice_path).name)
    content = load_content_encoder(hubert_path, device=device)
    return model, content


def open_pipeline(
    voice_path: str | Path,
    hubert_path: str | Path,
    rmvpe_path: str | Path | None = None,
    index_path: str | Path | None = None,
    f0_method: str = "rmvpe",
    config: PipelineConfig | None = None,
    device: str = "cpu",
) -> RvcPipeline:
    """An offline converter for one voice (``convert_array(x, sr) -> (y, rate)``)."""
    model, content = _load_parts(voice_path, hubert_path, device)
    f0 = make_f0_factory(rmvpe_path, device)(f0_method) if model.f0 else None
    index = load_index_or_none(index_path, dim=model.content_dim)
    return RvcPipeline(model.synthesizer, model.sample_rate, model.version, content, f0, index, config)


def open_realtime_voice(
    voice_path: str | Path,
    hubert_path: str | Path,
    rmvpe_path: str | Path | None = None,
    index_path: str | Path | None = None,
    config: RealtimeConfig | None = None,
    params: VoiceParams | None = None,
    device: str = "cpu",
) -> RvcRealtimeVoice:
    """A streaming RVC voice at the model's rate (the engine resamples the device rate)."""
    model, content = _load_parts(voice_path, hubert_path, device)
    factory = make_f0_factory(rmvpe_path, device) if model.f0 else None
    index = load_index_or_none(index_path, dim=model.content_dim)
    core = RealtimeCore(model.synthesizer, model.sample_rate, model.version, content, factory, index, config)
    voice = RvcRealtimeVoice(core, name=model.name, details=model.details())
    if params is not None:
        voice.set_params(params)
    return voice
