"""Wiring: open a voice file + index + shared encoders into an offline pipeline or a realtime voice.

``open_pipeline(...)`` -> :class:`RvcPipeline` (``convert_array(x, sr) -> (y, sr_out)``) for
``models.offline`` and ``voxshift convert``; ``open_realtime_voice(...)`` -> a streaming
:class:`RvcRealtimeVoice` for the engine. Pitch trackers are created lazily per method.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.base import F0_METHODS, VoiceParams
from models.errors import VoxshiftError
from models.kinds import ModelKind
from models.memory import release_memory
from models.retrieval import load_index_or_none
from models.rvc.net import InferResult, SynthesizerTrn
from models.rvc.pipeline import F0Estimator, PipelineConfig, RvcPipeline
from models.rvc.realtime import RealtimeConfig, RealtimeCore, RvcRealtimeVoice

log = logging.getLogger(__name__)


class MissingModelError(VoxshiftError):
    """A shared model file (HuBERT/ContentVec, RMVPE) is needed but was not found."""


def _frames(f0: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad (unvoiced) or cut a tracker's output to ``1 + n // 160`` frames."""
    n = 1 + n_samples // 160
    f0 = np.asarray(f0, dtype=np.float64).reshape(-1)
    if len(f0) >= n:
        return f0[:n]
    return np.pad(f0, (0, n - len(f0)))


def _check_f0_method(method: str, rmvpe_path: str | Path | None) -> None:
    """A known method, and ``rmvpe.pt`` present when the method is rmvpe."""
    if method not in F0_METHODS:
        raise ValueError(f"unknown f0 method {method!r}; choose one of {', '.join(F0_METHODS)}")
    if method == "rmvpe" and (rmvpe_path is None or not Path(rmvpe_path).is_file()):
        raise MissingModelError(
            f"the rmvpe pitch tracker needs rmvpe.pt (not found: {rmvpe_path}); "
            "run 'voxshift models' to see where to put it, or use --f0-method fcpe"
        )


def make_f0_factory(rmvpe_path: str | Path | None, device: str = "cpu") -> Callable[[str], F0Estimator]:
    """``method -> estimator`` over ``models.pitch.create_tracker`` (rmvpe needs ``rmvpe.pt``)."""

    def factory(method: str) -> F0Estimator:
        from models.pitch import create_tracker

        _check_f0_method(method, rmvpe_path)
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


def _require_hubert(hubert_path: str | Path) -> None:
    if not Path(hubert_path).is_file():
        raise MissingModelError(
            f"RVC voices need the content encoder hubert_base.pt (not found: {hubert_path}); "
            "run 'voxshift models' to see where to put it"
        )


def _open_voice(voice_path: str | Path, device: str) -> Any:
    from models.rvc import load_voice

    model = load_voice(voice_path, device=device)
    if model.is_training_checkpoint:
        log.info("%s is a training checkpoint; using its generator", Path(voice_path).name)
    return model


def _load_parts(voice_path: str | Path, hubert_path: str | Path, device: str) -> tuple[Any, Any]:
    from models.content import load_content_encoder

    _require_hubert(hubert_path)
    model = _open_voice(voice_path, device)
    content = load_content_encoder(hubert_path, device=device)
    return model, content


class LazyContentEncoder:
    """A HuBERT/ContentVec file loaded on first use; ``release()`` frees it until the next use.

    The offline pipeline releases it after its content pass, so a long conversion never holds
    the content encoder and the pitch model at once.
    """

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        self.path, self.device = Path(path), device
        self._encoder: Any = None

    def get(self) -> Any:
        if self._encoder is None:
            from models.content import load_content_encoder

            self._encoder = load_content_encoder(self.path, device=self.device)
        return self._encoder

    def extract(self, wav16k: Any, layer: int, final_proj: bool = False) -> Any:
        return self.get().extract(wav16k, layer, final_proj)

    def release(self) -> None:
        if self._encoder is not None:
            self._encoder = None
            release_memory()


class LazySynthesizer:
    """An RVC synthesizer loaded when used; ``release()`` frees it until the next use.

    Behaves like the loaded module for the pipeline (``infer``, attributes); attributes set on
    it (e.g. ``noise``) are kept and applied again after a reload.
    """

    def __init__(self, loader: Callable[[], Any], loaded: Any = None) -> None:
        object.__setattr__(self, "_loader", loader)
        object.__setattr__(self, "_module", loaded)
        object.__setattr__(self, "_overrides", {})

    def get(self) -> Any:
        if self._module is None:
            module = self._loader()
            for name, value in self._overrides.items():
                setattr(module, name, value)
            object.__setattr__(self, "_module", module)
        return self._module

    def release(self) -> None:
        if self._module is not None:
            object.__setattr__(self, "_module", None)
            release_memory()

    def infer(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        sid: torch.Tensor | int | None = None,
        skip_head: int | None = None,
        return_length: int | None = None,
    ) -> InferResult:
        """The loaded synthesizer's :meth:`~models.rvc.net.SynthesizerTrn.infer`."""
        synthesizer: SynthesizerTrn = self.get()
        return synthesizer.infer(phone, phone_lengths, pitch, pitchf, sid, skip_head, return_length)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._overrides[name] = value
        if self._module is not None:
            setattr(self._module, name, value)


class LazyF0:
    """A pitch estimator created on first call (``factory(method)``); ``release()`` frees it."""

    def __init__(self, factory: Callable[[str], F0Estimator], method: str) -> None:
        self.factory, self.method = factory, method
        self._estimate: F0Estimator | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._estimate is None:
            self._estimate = self.factory(self.method)
        return self._estimate(x)

    def release(self) -> None:
        if self._estimate is not None:
            self._estimate = None
            release_memory()


def open_pipeline(
    voice_path: str | Path,
    hubert_path: str | Path,
    rmvpe_path: str | Path | None = None,
    index_path: str | Path | None = None,
    f0_method: str = "rmvpe",
    config: PipelineConfig | None = None,
    device: str = "cpu",
) -> RvcPipeline:
    """An offline converter for one voice (``convert_array(x, sr) -> (y, rate)``).

    The voice is loaded and checked now; the content encoder and the pitch model are checked now
    (kind and presence, without loading). A conversion loads each model when its pass needs it
    and frees it after, so only one of the three is in memory at a time.
    """
    from models.checkpoint import detect
    from models.rvc import load_voice

    _require_hubert(hubert_path)
    model = _open_voice(voice_path, device)  # checked fully now, reloaded for synthesis
    synthesizer = LazySynthesizer(
        lambda: load_voice(voice_path, device=device).synthesizer, model.synthesizer
    )
    detect(hubert_path, expected=[ModelKind.HUBERT])
    content = LazyContentEncoder(hubert_path, device)
    f0: F0Estimator | None = None
    if model.f0:
        _check_f0_method(f0_method, rmvpe_path)
        if f0_method == "rmvpe" and rmvpe_path is not None:  # present: checked just above
            detect(rmvpe_path, expected=[ModelKind.RMVPE])
        f0 = LazyF0(make_f0_factory(rmvpe_path, device), f0_method)
    index = load_index_or_none(index_path, dim=model.content_dim)
    return RvcPipeline(synthesizer, model.sample_rate, model.version, content, f0, index, config)


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
