"""LLVC as a realtime :class:`models.base.Voice`, and the safe, strict checkpoint loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from models.base import Voice, VoiceInfo
from models.checkpoint import safe_load
from models.errors import ModelFormatError
from models.kinds import VoiceKind
from models.llvc.config import DEFAULT_CONFIG, LLVCConfig, load_config
from models.llvc.net import LLVCNet
from models.llvc.streaming import FastLLVC, StreamState

CHUNK_FACTORS = (1, 2, 4)


def extract_state_dict(obj: Any, path: Path | str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model state dict of an LLVC file: ``{"model": state_dict, ...}`` (or a bare state dict)."""
    if isinstance(obj, Mapping) and "model" in obj:
        obj = obj["model"]
    elif isinstance(obj, Mapping) and "weight" in obj and "config" in obj:
        raise ModelFormatError(f"{path} is an RVC voice file, not an LLVC checkpoint.")
    if not isinstance(obj, Mapping) or not obj:
        raise ModelFormatError(f"{path} has no LLVC state dict (expected a dict with key 'model').")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ModelFormatError(
            f"{path}: the state dict holds non-tensor entries ({', '.join(map(str, bad[:5]))})."
        )
    return dict(obj)


def check_fits(net: LLVCNet, state: Mapping[str, torch.Tensor], path: Path | str = "checkpoint") -> None:
    """Raise :class:`ModelFormatError` naming missing, unexpected and mis-shaped tensors."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if not (missing or unexpected or shapes):
        bad_dtype = [k for k, v in state.items() if not v.dtype.is_floating_point]
        if bad_dtype:
            raise ModelFormatError(f"{path}: non-float tensors {', '.join(bad_dtype[:5])}.")
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)}: {', '.join(missing[:6])}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:6])}")
    if shapes:
        parts.append(f"wrong shape {len(shapes)}: {'; '.join(shapes[:4])}")
    raise ModelFormatError(
        f"{path} does not fit the LLVC config ({' | '.join(parts)}); "
        "pass the config.json that was trained with this checkpoint."
    )


def build_net(
    state: Mapping[str, torch.Tensor], config: LLVCConfig, path: Path | str = "checkpoint"
) -> LLVCNet:
    """Build the network for ``config`` and load ``state`` strictly (float32, eval mode)."""
    net = LLVCNet(config)
    check_fits(net, state, path)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    net.eval().requires_grad_(False)
    return net


def _resolve_config(config: str | Path | LLVCConfig | Mapping[str, Any] | None) -> LLVCConfig:
    if config is None:
        return DEFAULT_CONFIG
    if isinstance(config, LLVCConfig):
        return config
    if isinstance(config, Mapping):
        return LLVCConfig.from_dict(config)
    return load_config(config)


@dataclass(frozen=True)
class LLVCOptions:
    """How the realtime voice runs."""

    chunk_factor: int = 1
    """Decoder chunks per hop: 1 (13 ms), 2 (26 ms) or 4 (52 ms); larger is cheaper per sample."""
    threads: int | None = 1
    """torch intra-op threads on the thread that runs ``step`` (None keeps torch's setting). One is
    fastest here: a 13-frame chunk is too small to split, and extra OpenMP threads spin on a busy
    machine (see docs/readme/llvc.md)."""

    def __post_init__(self) -> None:
        if self.chunk_factor not in CHUNK_FACTORS:
            raise ValueError(f"chunk_factor must be one of {CHUNK_FACTORS}, got {self.chunk_factor}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be positive, got {self.threads}")


class LLVCVoice(Voice):
    """An LLVC model as a streaming voice at its own rate (16 kHz for the published model).

    ``step(x[hop])`` takes ``hop = dec_chunk_size * L * chunk_factor`` new samples and returns as
    many: the whole-signal conversion delayed by ``latency = L`` samples (the ``2L`` samples of
    front context the network needs come from the state). A chunk of ``hop + 2L`` samples is taken
    as a reference window that carries its own front context (the reference ``infer_stream`` call).
    """

    kind: ClassVar[VoiceKind] = VoiceKind.LLVC

    def __init__(self, net: LLVCNet, name: str = "llvc", options: LLVCOptions | None = None) -> None:
        super().__init__()
        self.options = options or LLVCOptions()
        self.net = net
        self.config = net.cfg
        self.name = name
        self.sample_rate = net.cfg.sample_rate
        self.hop = net.cfg.chunk_len * self.options.chunk_factor
        self.latency = net.cfg.L
        self.fast = FastLLVC(net)

    @property
    def chunk_factor(self) -> int:
        return self.options.chunk_factor

    def init_state(self) -> StreamState:
        return self.fast.init_state()

    def step(self, x: np.ndarray | torch.Tensor, state: StreamState) -> tuple[np.ndarray, StreamState]:
        """``x [k*chunk_len]`` (realtime) or ``[2L + k*chunk_len]`` (reference window) -> ``[k*chunk]``."""
        chunk = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(-1))
        n, c, ctx = chunk.shape[0], self.fast.chunk_len, self.fast.context
        threads = self.options.threads
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        with torch.inference_mode():
            if n % c == 0 and n:
                y = self.fast.step(chunk, state)
            elif (n - ctx) % c == 0 and n > ctx:
                y = self.fast.step_window(chunk, state)
            else:
                raise ValueError(f"LLVC step needs a multiple of {c} samples (or that plus {ctx}), got {n}")
        return y.numpy(), state

    def info(self) -> VoiceInfo:
        cfg = self.config
        return VoiceInfo(
            self.name,
            self.kind,
            "LLVC low-latency voice conversion (one target voice per model).",
            {
                "rate": f"{cfg.sample_rate // 1000} kHz",
                "chunk": f"{self.hop / cfg.sample_rate * 1000:.0f} ms",
                "latency": f"{(self.hop + self.latency) / cfg.sample_rate * 1000:.1f} ms",
            },
        )


def load_voice(
    path: str | Path,
    config: str | Path | LLVCConfig | Mapping[str, Any] | None = None,
    *,
    chunk_factor: int = 1,
    threads: int | None = 1,
) -> LLVCVoice:
    """Load an LLVC checkpoint (``{"model": state_dict}``) safely and strictly as a realtime voice.

    ``config`` is the experiment ``config.json`` (path, parsed dict or :class:`LLVCConfig`); the
    published default is used when it is None.
    """
    path = Path(path)
    state = extract_state_dict(safe_load(path), path)
    net = build_net(state, _resolve_config(config), path)
    return LLVCVoice(net, name=path.stem, options=LLVCOptions(chunk_factor=chunk_factor, threads=threads))


def stream_reference(voice: LLVCVoice, audio: np.ndarray | torch.Tensor, chunk_factor: int) -> torch.Tensor:
    """The reference ``infer_stream`` over a whole signal: ``audio [N]`` -> ``[1, N]`` float32 tensor.

    Like the reference it returns a tensor (``np.asarray`` of it is free).
    """
    from models.llvc.streaming import stream_reference_net

    x = torch.as_tensor(np.asarray(audio, dtype=np.float32)).reshape(-1)
    if chunk_factor < 1:
        raise ValueError(f"chunk_factor must be positive, got {chunk_factor}")
    with torch.inference_mode():
        out = stream_reference_net(voice.net, x, chunk_factor)
    return out.clone()
