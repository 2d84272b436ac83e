"""One interface over every pitch tracker RVC offers: RMVPE, FCPE, CREPE and a DSP (YIN) method.

``create_tracker(method).f0(wav16k)`` -> f0 in Hz at 100 frames/s: ``1 + N // 160`` frames,
frame j centred on sample ``160 * j`` (RMVPE's convention), 0 Hz = unvoiced. Each tracker applies
the post-processing the reference applies to it and nothing else (RMVPE's output is not clipped).
"""

from __future__ import annotations

import contextlib
import io
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsp.yin import Yin, YinConfig
from models.base import F0_METHODS
from models.errors import VoxshiftError

from .f0 import F0_MAX, F0_MIN, HOP, clip_f0, median_filter

SAMPLE_RATE = 16000


class PitchTrackerError(VoxshiftError):
    """A pitch tracker cannot be created (unknown method, missing model file or package)."""


@dataclass(frozen=True)
class TrackerConfig:
    """Tunables of the trackers; defaults are the RVC reference's values."""

    f0_min: float = F0_MIN
    f0_max: float = F0_MAX
    rmvpe_threshold: float = 0.03
    """Peak salience under which an RMVPE frame is unvoiced (RVC: 0.03 offline and realtime)."""
    fcpe_threshold: float = 0.006
    """FCPE confidence threshold (RVC and torchfcpe default)."""
    crepe_model: str = "full"
    """torchcrepe capacity: "full" (RVC) or "tiny" (about 30x faster, coarser)."""
    crepe_periodicity: float = 0.1
    """CREPE frames whose median-filtered periodicity is below this are unvoiced (RVC: 0.1)."""
    crepe_silence_db: float | None = -60.0
    """CREPE frames quieter than this (A-weighted dB) are unvoiced; None = as RVC (no gate, so
    digital silence reads as a confident random pitch)."""
    filter_radius: int = 3
    """DSP tracker: a 3-tap median filter when > 2, as the reference does for harvest."""

    def __post_init__(self) -> None:
        if not 0 < self.f0_min < self.f0_max < SAMPLE_RATE / 2:
            raise ValueError(f"need 0 < f0_min < f0_max < 8000 Hz, got {self.f0_min}, {self.f0_max}")
        if self.crepe_model not in ("full", "tiny"):
            raise ValueError(f"crepe_model must be 'full' or 'tiny', got {self.crepe_model!r}")


class PitchTracker(ABC):
    """``f0(wav16k [N] float32) -> [1 + N // 160]`` float64 Hz (0 = unvoiced)."""

    name: str = ""
    sample_rate: int = SAMPLE_RATE
    hop: int = HOP

    @abstractmethod
    def f0(self, wav16k: np.ndarray) -> np.ndarray: ...

    def frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop

    @staticmethod
    def _mono(wav16k: np.ndarray | torch.Tensor) -> np.ndarray:
        x = wav16k.detach().cpu().numpy() if isinstance(wav16k, torch.Tensor) else np.asarray(wav16k)
        x = np.squeeze(x)
        if x.ndim != 1:
            raise ValueError(f"wav16k must be a mono 1-D signal, got shape {np.shape(wav16k)}")
        return x.astype(np.float32, copy=False)


class RmvpeTracker(PitchTracker):
    name = "rmvpe"

    def __init__(self, rmvpe: Any, threshold: float = 0.03) -> None:
        self.rmvpe = rmvpe
        self.threshold = threshold

    def f0(self, wav16k: np.ndarray) -> np.ndarray:
        x = self._mono(wav16k)
        if len(x) <= self.rmvpe.mel_cfg.n_fft // 2:  # too short for RMVPE's reflect-padded STFT
            return np.zeros(self.frames(len(x)))
        return np.asarray(self.rmvpe.f0(x, self.threshold), dtype=np.float64)


class FcpeTracker(PitchTracker):
    """torchfcpe's bundled model (``fcpe_c_v001.pt``, shipped in the wheel; loaded weights-only)."""

    name = "fcpe"

    def __init__(self, device: str | torch.device = "cpu", config: TrackerConfig = TrackerConfig()) -> None:
        self.device = torch.device(device)
        self.config = config
        self.model = _load_fcpe(self.device)

    def f0(self, wav16k: np.ndarray) -> np.ndarray:
        x = self._mono(wav16k)
        n = self.frames(len(x))
        wav = torch.from_numpy(np.ascontiguousarray(x)).to(self.device)[None, :, None]
        with torch.inference_mode():
            f0 = self.model.infer(
                wav,
                sr=self.sample_rate,
                decoder_mode="local_argmax",
                threshold=self.config.fcpe_threshold,
                f0_min=self.config.f0_min,
                f0_max=self.config.f0_max,
                interp_uv=False,
                output_interp_target_length=n,
            )
        return clip_f0(f0.reshape(-1).float().cpu().numpy(), self.config.f0_min, self.config.f0_max)


def _load_fcpe(device: torch.device) -> Any:
    try:
        import torchfcpe
        from torchfcpe.models_infer import InferCFNaiveMelPE
        from torchfcpe.tools import DotDict
    except ImportError as err:
        raise PitchTrackerError(f"FCPE needs the torchfcpe package ({err}); pip install torchfcpe") from None
    path = Path(torchfcpe.__file__).parent / "assets" / "fcpe_c_v001.pt"
    if not path.exists():
        raise PitchTrackerError(
            f"torchfcpe is installed without its bundled model {path}; reinstall torchfcpe"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    ckpt["config_dict"]["model"]["conv_dropout"] = 0.0
    ckpt["config_dict"]["model"]["atten_dropout"] = 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # torchfcpe prints config warnings
        model = InferCFNaiveMelPE(DotDict(ckpt["config_dict"]), ckpt["model"])
    return model.to(device).eval()


class CrepeTracker(PitchTracker):
    """torchcrepe with its shipped weights, post-processed as RVC does (periodicity median,
    f0 mean filter over 3 frames, periodicity < 0.1 unvoiced), plus a silence gate (see
    ``TrackerConfig.crepe_silence_db``). The first call JIT-compiles
    numba code in torchcrepe's decoder (tens of seconds once per process)."""

    name = "crepe"

    def __init__(self, device: str | torch.device = "cpu", config: TrackerConfig = TrackerConfig()) -> None:
        try:
            import torchcrepe
        except ImportError as err:
            raise PitchTrackerError(f"CREPE needs the torchcrepe package ({err})") from None
        self.torchcrepe = torchcrepe
        self.device = torch.device(device)
        self.config = config

    def f0(self, wav16k: np.ndarray) -> np.ndarray:
        tc = self.torchcrepe
        x = torch.from_numpy(np.ascontiguousarray(self._mono(wav16k)))[None]
        with torch.inference_mode():
            f0, pd = tc.predict(
                x,
                self.sample_rate,
                self.hop,
                self.config.f0_min,
                self.config.f0_max,
                self.config.crepe_model,
                batch_size=512,
                device=str(self.device),
                return_periodicity=True,
            )
            pd = tc.filter.median(pd, 3)
            if self.config.crepe_silence_db is not None:
                pd = tc.threshold.Silence(self.config.crepe_silence_db)(pd, x, self.sample_rate, self.hop)
            f0 = tc.filter.mean(f0, 3)
            f0[pd < self.config.crepe_periodicity] = 0
        return f0[0].cpu().numpy().astype(np.float64)


class DspTracker(PitchTracker):
    """YIN in numpy (no model file, a few ms per second of audio), 3-tap median like harvest."""

    name = "dsp"

    def __init__(self, config: TrackerConfig = TrackerConfig()) -> None:
        self.config = config
        # a 40 ms window (two periods at 50 Hz keep the low end stable); no fallback to the global
        # minimum: a frame without a clear dip is unvoiced
        self.yin = Yin(
            self.sample_rate,
            YinConfig(
                config.f0_min,
                config.f0_max,
                window=0.040,
                threshold=0.15,
                fallback_max=None,
                silence_db=-60.0,
            ),
        )

    def f0(self, wav16k: np.ndarray) -> np.ndarray:
        return median_filter(self.yin.track(self._mono(wav16k), self.hop), self.config.filter_radius)


def create_tracker(
    method: str,
    device: str | torch.device = "cpu",
    rmvpe_path: str | Path | None = None,
    config: TrackerConfig = TrackerConfig(),
) -> PitchTracker:
    """A pitch tracker by name: one of ``models.base.F0_METHODS`` ("rmvpe", "fcpe", "crepe", "dsp").

    ``rmvpe`` needs ``rmvpe_path`` (the ``rmvpe.pt`` file); the others use no downloads.
    """
    if method == "rmvpe":
        if rmvpe_path is None:
            raise PitchTrackerError(
                "the rmvpe pitch method needs rmvpe.pt; give its path or pick fcpe or dsp"
            )
        from .rmvpe import load_rmvpe

        return RmvpeTracker(load_rmvpe(rmvpe_path, device=device), config.rmvpe_threshold)
    if method == "fcpe":
        return FcpeTracker(device, config)
    if method == "crepe":
        return CrepeTracker(device, config)
    if method == "dsp":
        return DspTracker(config)
    raise PitchTrackerError(f"unknown pitch method {method!r}; choose one of {', '.join(F0_METHODS)}")
