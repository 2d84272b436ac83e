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

from models.base import F0_METHODS, VoiceParams
from models.errors import VoxshiftError
from models.retrieval import load_index_or_none
from models.rvc.pipeline import F0Estimator, PipelineConfig, RvcPipeline
from models.rvc.realtime import RealtimeConfig, RealtimeCore, RvcRealtimeVoice

log = logging.getLogger(__name__)


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


def make_f0_factory(rmvpe_path: str | Path | None, device: str = "cpu") -> Callable[[str], F0Estimator]:
    """``method -> estimator`` over ``models.pitch.create_tracker`` (rmvpe needs ``rmvpe.pt``)."""

    def factory(method: str) -> F0Estimator:
        from models.pitch import create_tracker

        if method not in F0_METHODS:
            raise ValueError(f"unknown f0 method {method!r}; choose one of {', '.join(F0_METHODS)}")
        if method == "rmvpe" and (rmvpe_path is None or not Path(rmvpe_path).is_file()):
            raise MissingModelError(
                f"the rmvpe pitch tracker needs rmvpe.pt (not found: {rmvpe_path}); "
                "run 'voxshift models' to see where to put it, or use --f0-method fcpe"
            )
        tracker = create_tracker(method, device=device, rmvpe_path=rmvpe_path)

        def estimate(x: np.ndarray) -> np.ndarray:
            return _frames(tracker.f0(x), len(x))

        return estimate

    return factory


def _live_f0_factory(rmvpe_path: str | Path | None, device: str) -> Callable[[str], F0Estimator]:
    """Like :func:`make_f0_factory`, but live audio never stops for a missing ``rmvpe.pt``: fcpe is used."""
    inner = make_f0_factory(rmvpe_path, device)

    def factory(method: str) -> F0Estimator:
        if method == "rmvpe" and (rmvpe_path is None or not Path(rmvpe_path).is_file()):
            log.warning("rmvpe.pt not found (%s): using the fcpe pitch tracker instead", rmvpe_path)
            method = "fcpe"
        return inner(method)

    return factory


def _load_parts(voice_path: str | Path, hubert_path: str | Path, device: str) -> tuple[Any, Any]:
    from models.content import load_content_encoder
    from models.rvc import load_voice

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
    factory = _live_f0_factory(rmvpe_path, device) if model.f0 else None
    index = load_index_or_none(index_path, dim=model.content_dim)
    core = RealtimeCore(model.synthesizer, model.sample_rate, model.version, content, factory, index, config)
    voice = RvcRealtimeVoice(core, name=model.name, details=model.details())
    if params is not None:
        voice.set_params(params)
    return voice
