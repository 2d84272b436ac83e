"""The one adapter from foreign HuBERT/ContentVec files to :class:`Hubert`.

Accepted inputs, all opened with :func:`models.checkpoint.safe_load` (never runs code):

* a fairseq checkpoint (RVC's ``hubert_base.pt``): ``{"cfg", "model", "task_state", ...}`` whose
  ``task_state`` pickles a ``fairseq.data.dictionary.Dictionary`` (mapped to an inert stub);
* a bare fairseq state dict (the ``model`` entry alone);
* a torchaudio ``wav2vec2`` / HuBERT state dict (``encoder.transformer.layers.N.attention...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.checkpoint import FAIRSEQ_FOREIGN, detect, safe_load
from models.errors import ModelFormatError
from models.kinds import ModelKind
from models.memory import build_on_meta, load_assigned, release_memory

from .hubert import HUBERT_BASE_CONV, ConvSpec, Hubert, HubertConfig, parse_conv_layers

FOREIGN_CLASSES = FAIRSEQ_FOREIGN
"""Classes pickled in a fairseq checkpoint that the loader maps to inert stubs (Dictionary, ...)."""

TRAINING_ONLY_KEYS = ("mask_emb", "label_embs_concat")
POS_CONV = "encoder.pos_conv.0."

# torchaudio wav2vec2 key -> fairseq key (first match wins).
_TORCHAUDIO_TO_FAIRSEQ: tuple[tuple[str, str], ...] = (
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"encoder\.feature_projection\.layer_norm\.", "layer_norm."),
    (r"encoder\.feature_projection\.projection\.", "post_extract_proj."),
    (r"encoder\.transformer\.pos_conv_embed\.conv\.", POS_CONV),
    (r"encoder\.transformer\.layer_norm\.", "encoder.layer_norm."),
    (r"encoder\.transformer\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
    (r"encoder\.transformer\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
    (r"encoder\.transformer\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
    (r"encoder\.transformer\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
)


class ContentEncoder:
    """A loaded HuBERT/ContentVec encoder, ready for inference on one device.

    ``extract(wav16k [B, N], layer, final_proj) -> [B, T, C]`` exactly as RVC calls fairseq's
    ``extract_features``: raw 16 kHz audio (no normalisation, no mask), output of block ``layer``
    (1-based; 9 for RVC v1 with ``final_proj`` -> 256 dims, 12 for v2 -> 768 dims).
    """

    def __init__(self, net: Hubert, device: str | torch.device = "cpu", half: bool = False) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.net = net.to(self.device, self.dtype).eval()
        self.config = net.cfg

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def hop(self) -> int:
        """Input samples per output frame (320 at 16 kHz: 50 frames/s)."""
        return self.config.hop

    def _input(self, wav16k: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(wav16k)
        if x.dim() == 1:
            x = x.unsqueeze(0)
        if x.dim() != 2:
            raise ValueError(f"wav16k must be [B, N] or [N], got shape {tuple(x.shape)}")
        if self.config.frames(x.shape[-1]) < 1:
            raise ValueError(f"wav16k has {x.shape[-1]} samples, too short for one content frame")
        return x.to(self.device, self.dtype).contiguous()

    def extract(
        self, wav16k: torch.Tensor | np.ndarray, layer: int, final_proj: bool = False
    ) -> torch.Tensor:
        """``wav16k [B, N]`` -> ``[B, T, C]``, T = frames(N) (49 for 16000 samples).

        Computes only blocks ``1..layer``; returns the model dtype on the model device.
        """
        if not 1 <= layer <= self.config.layers:
            raise ValueError(f"layer must be within 1..{self.config.layers}, got {layer}")
        x = self._input(wav16k)
        with torch.inference_mode():
            return self.net(x, layer, final_proj)

    def conv_features(self, wav16k: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``wav16k [B, N]`` -> feature-extractor output ``[B, 512, T]`` (before LayerNorm)."""
        x = self._input(wav16k)
        with torch.inference_mode():
            return self.net.conv_features(x)


def load_content_encoder(
    path: str | Path, device: str | torch.device = "cpu", half: bool = False
) -> ContentEncoder:
    """Load ``hubert_base.pt`` (or a compatible HuBERT/ContentVec file) for inference.

    ``half`` stores the weights in float16 (for CUDA; the GroupNorm still runs in float32).
    Raises :class:`ModelFormatError` with a one-line message if the file is not such a model.
    """
    name = Path(path).name
    obj = safe_load(path, allow_foreign=FOREIGN_CLASSES, mmap=True)
    try:
        state, model_cfg = split_container(obj, name)
    except ModelFormatError as err:
        raise _kind_error(path, ModelKind.HUBERT, err) from None
    net = build_hubert(state, model_cfg, name)
    del obj, state
    encoder = ContentEncoder(net, device=device, half=half)
    release_memory()
    return encoder


def _kind_error(path: str | Path, expected: ModelKind, err: ModelFormatError) -> ModelFormatError:
    """The clearest one-line error for a file that is not of the ``expected`` kind: what the file
    is (from :func:`detect`) if that is something else, otherwise ``err`` itself."""
    try:
        found = detect(path)
    except ModelFormatError as other:
        return ModelFormatError(f"{other}, expected {expected.description}")
    if found.kind is expected:
        return err
    return ModelFormatError(f"{Path(path).name} is {found.description}, expected {expected.description}")


def split_container(obj: Any, name: str) -> tuple[dict[str, torch.Tensor], Mapping[str, Any]]:
    """A loaded file -> (fairseq-named float state dict, fairseq ``cfg["model"]`` or ``{}``)."""
    if not isinstance(obj, Mapping):
        raise ModelFormatError(
            f"{name} holds a {type(obj).__name__}, not a HuBERT/ContentVec checkpoint (hubert_base.pt)"
        )
    model_cfg: Mapping[str, Any] = {}
    state: Any = obj
    if "model" in obj and isinstance(obj["model"], Mapping):
        state = obj["model"]
        cfg = obj.get("cfg")
        args_state = getattr(obj.get("args"), "state", None)  # legacy argparse.Namespace (a stub)
        if isinstance(cfg, Mapping) and isinstance(cfg.get("model"), Mapping):
            model_cfg = cfg["model"]
        elif isinstance(args_state, Mapping):
            model_cfg = {"_name": args_state.get("arch", "hubert"), **args_state}
    elif "weight" in obj and "config" in obj:
        raise ModelFormatError(f"{name} is an RVC voice file, not a HuBERT/ContentVec content encoder")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelFormatError(f"{name} contains no tensors; expected a HuBERT/ContentVec checkpoint")
    if any(k.startswith("encoder.transformer.") for k in tensors):
        tensors = {_torchaudio_key(k): v for k, v in tensors.items()}
    if (
        "feature_extractor.conv_layers.0.0.weight" not in tensors
        or "encoder.layers.0.fc1.weight" not in tensors
    ):
        raise ModelFormatError(
            f"{name} is not a HuBERT/ContentVec checkpoint: no feature_extractor/encoder tensors "
            f"(found e.g. {', '.join(sorted(tensors)[:3])})"
        )
    if not str(model_cfg.get("_name") or "hubert").startswith(("hubert", "contentvec")):
        raise ModelFormatError(f"{name} is a fairseq {model_cfg.get('_name')!r} model, expected 'hubert'")
    return tensors, model_cfg


def _torchaudio_key(key: str) -> str:
    for pattern, repl in _TORCHAUDIO_TO_FAIRSEQ:
        new, n = re.subn("^" + pattern, repl, key)
        if n:
            return new
    m = re.match(r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(.*)", key)
    if m:  # GroupNorm of conv 0 ("default" mode) -> index 2; per-conv LayerNorm ("layer_norm") -> 2.1
        return f"feature_extractor.conv_layers.{m[1]}.2.{m[2]}"
    return key


def build_hubert(state: Mapping[str, torch.Tensor], model_cfg: Mapping[str, Any], name: str) -> Hubert:
    """Infer the config, fold the positional-conv weight norm and load strictly."""
    cfg = infer_config(state, model_cfg, name)
    # owned float32 copies, one tensor at a time (the file's mapping is released after loading)
    weights = {k: v.to(torch.float32, copy=True) for k, v in state.items() if k not in TRAINING_ONLY_KEYS}
    weights = fold_pos_conv(weights, name)
    if cfg.extractor_mode == "layer_norm":
        weights = {
            re.sub(r"(conv_layers\.\d+)\.2\.(weight|bias)$", r"\1.2.1.\2", k): v for k, v in weights.items()
        }
    net = build_on_meta(lambda: Hubert(cfg))
    try:
        load_assigned(net, weights)
    except RuntimeError as err:
        missing, unexpected = _mismatch(net, weights)
        raise ModelFormatError(
            f"{name} does not fit a HuBERT encoder: missing {missing[:5]}, unexpected {unexpected[:5]}"
            + ("" if missing or unexpected else f" ({str(err).splitlines()[-1].strip()})")
        ) from None
    return net


def _mismatch(net: torch.nn.Module, weights: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    expected = set(net.state_dict())
    return sorted(expected - set(weights)), sorted(set(weights) - expected)


def fold_pos_conv(weights: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Replace ``encoder.pos_conv.0.{weight_g, weight_v}`` (or the parametrization naming) by
    one ``encoder.pos_conv.weight = g * v / ||v||`` (norm over dims 0, 1: weight norm dim 2)."""
    out = {k: v for k, v in weights.items() if not k.startswith(POS_CONV)}
    g = weights.get(POS_CONV + "weight_g", weights.get(POS_CONV + "parametrizations.weight.original0"))
    v = weights.get(POS_CONV + "weight_v", weights.get(POS_CONV + "parametrizations.weight.original1"))
    if g is not None and v is not None:
        out["encoder.pos_conv.weight"] = torch._weight_norm(v, g, 2)
    elif POS_CONV + "weight" in weights:
        out["encoder.pos_conv.weight"] = weights[POS_CONV + "weight"]
    else:
        raise ModelFormatError(f"{name} has no positional convolution weights ({POS_CONV}weight_g/weight_v)")
    if POS_CONV + "bias" in weights:
        out["encoder.pos_conv.bias"] = weights[POS_CONV + "bias"]
    return out


def _conv_specs(
    state: Mapping[str, torch.Tensor], model_cfg: Mapping[str, Any], name: str
) -> tuple[ConvSpec, ...]:
    shapes = []
    i = 0
    while f"feature_extractor.conv_layers.{i}.0.weight" in state:
        w = state[f"feature_extractor.conv_layers.{i}.0.weight"]
        shapes.append((int(w.shape[0]), int(w.shape[-1])))
        i += 1
    spec = model_cfg.get("conv_feature_layers")
    if isinstance(spec, str):
        try:
            specs = parse_conv_layers(spec)
        except ValueError as err:
            raise ModelFormatError(f"{name}: {err}") from None
    elif [s[:2] for s in HUBERT_BASE_CONV] == shapes:
        specs = HUBERT_BASE_CONV
    else:
        raise ModelFormatError(
            f"{name}: unusual feature-extractor convs {shapes} and no config giving their strides"
        )
    if [s[:2] for s in specs] != shapes:
        raise ModelFormatError(f"{name}: its config says convs {specs} but the tensors have {shapes}")
    return specs


def infer_config(state: Mapping[str, torch.Tensor], model_cfg: Mapping[str, Any], name: str) -> HubertConfig:
    """Architecture from the tensor shapes, plus what shapes cannot tell (heads, strides) from cfg."""
    n_layers = 0
    while f"encoder.layers.{n_layers}.fc1.weight" in state:
        n_layers += 1
    fc1 = state["encoder.layers.0.fc1.weight"]
    embed_dim, ffn_dim = int(fc1.shape[1]), int(fc1.shape[0])
    pos_key = next(
        (k for k in state if k.startswith(POS_CONV) and k.endswith(("weight_v", "original1", "0.weight"))),
        None,
    )
    if pos_key is None:
        raise ModelFormatError(f"{name} has no positional convolution weights ({POS_CONV}weight_v)")
    pos_w = state[pos_key]
    final = state.get("final_proj.weight")
    has_ln_convs = any(f"feature_extractor.conv_layers.1.2.{s}weight" in state for s in ("", "1."))
    try:
        return HubertConfig(
            conv_layers=_conv_specs(state, model_cfg, name),
            extractor_mode="layer_norm" if has_ln_convs else "default",
            embed_dim=embed_dim,
            ffn_dim=ffn_dim,
            heads=int(model_cfg.get("encoder_attention_heads", max(1, embed_dim // 64))),
            layers=n_layers,
            conv_pos=int(pos_w.shape[-1]),
            conv_pos_groups=embed_dim // int(pos_w.shape[1]),
            final_dim=int(final.shape[0]) if final is not None else 0,
            layer_norm_first=bool(model_cfg.get("layer_norm_first", False)),
        )
    except ValueError as err:
        raise ModelFormatError(f"{name}: inconsistent HuBERT architecture: {err}") from None
