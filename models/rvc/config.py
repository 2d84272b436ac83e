"""Typed configuration of the RVC synthesizer and the one adapter from the community formats.

Community voice files carry an unlabelled 18-entry constructor list (``config``) plus ``version``
("v1"/"v2") and ``f0`` (0/1). :func:`from_community` turns that into an :class:`RvcConfig` and
rejects malformed lists; :func:`infer_config_from_state_dict` rebuilds the config of a file that
has none (training checkpoints ``G_*.pth``, pretrained generators) from its tensor shapes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from models.errors import ModelFormatError
from models.kinds import RvcVersion

CONFIG_LIST_LENGTH = 18


@dataclass(frozen=True)
class RvcConfig:
    """Constructor configuration of ``SynthesizerTrnMs{256,768}NSFsid[_nono]``.

    The defaults are the community v2 40k model; :func:`variant` builds the others.
    """

    version: RvcVersion = RvcVersion.V2
    """V1: 256-dim content features (HuBERT layer 9 + final_proj); V2: 768-dim (layer 12)."""
    f0: bool = True
    """Pitch-conditioned: coarse-pitch embedding in the encoder and the NSF (sine source) decoder."""
    spec_channels: int = 1025
    """Linear-spectrogram bins of training; sizes only the posterior encoder ``enc_q``."""
    segment_size: int = 32
    """Training slice length in frames; unused at inference."""
    inter_channels: int = 192
    """Latent channels: size of m_p / logs_p / z."""
    hidden_channels: int = 192
    filter_channels: int = 768
    n_heads: int = 2
    n_layers: int = 6
    kernel_size: int = 3
    p_dropout: float = 0.0
    resblock: str = "1"
    """"1": HiFi-GAN ResBlock1 (conv pairs); "2": ResBlock2 (single convs)."""
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    upsample_rates: tuple[int, ...] = (10, 10, 2, 2)
    """ConvTranspose strides; their product is the hop (output samples per feature frame)."""
    upsample_initial_channel: int = 512
    upsample_kernel_sizes: tuple[int, ...] = (16, 16, 4, 4)
    n_speakers: int = 109
    """Rows of ``emb_g`` (the community list calls it spk_embed_dim; loaders take it from the file)."""
    gin_channels: int = 256
    sample_rate: int = 40000
    flow_layers: int = 4
    """Residual coupling layers in the flow (each followed by a channel flip)."""
    flow_wn_layers: int = 3
    flow_kernel_size: int = 5
    window_size: int = 10
    """Relative-attention window (±10 frames), fixed in RVC."""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ModelFormatError("invalid RVC config: " + "; ".join(problems))

    @property
    def content_dim(self) -> int:
        """Channels of the content features the model expects (256 for v1, 768 for v2)."""
        return self.version.content_dim

    @property
    def hop(self) -> int:
        """Output samples per feature frame (features arrive at 100 frames/s)."""
        return math.prod(self.upsample_rates)

    def to_community_list(self) -> list[Any]:
        """The 18-entry list a community voice file stores (inverse of :func:`from_community`)."""
        return [
            self.spec_channels, self.segment_size, self.inter_channels, self.hidden_channels,
            self.filter_channels, self.n_heads, self.n_layers, self.kernel_size,
            int(self.p_dropout) if float(self.p_dropout).is_integer() else self.p_dropout,
            self.resblock, list(self.resblock_kernel_sizes),
            [list(d) for d in self.resblock_dilation_sizes], list(self.upsample_rates),
            self.upsample_initial_channel, list(self.upsample_kernel_sizes), self.n_speakers,
            self.gin_channels, self.sample_rate,
        ]  # fmt: skip


def _problems(c: RvcConfig) -> list[str]:
    out = []
    if c.resblock not in ("1", "2"):
        out.append(f"resblock must be '1' or '2', got {c.resblock!r}")
    if len(c.upsample_rates) != len(c.upsample_kernel_sizes) or not c.upsample_rates:
        out.append("upsample_rates and upsample_kernel_sizes must have the same non-zero length")
    for u, k in zip(c.upsample_rates, c.upsample_kernel_sizes, strict=False):
        if u < 1 or k < u or (k - u) % 2:
            out.append(f"upsample kernel {k} does not fit stride {u} (needs k >= u and k - u even)")
    if len(c.resblock_kernel_sizes) != len(c.resblock_dilation_sizes) or not c.resblock_kernel_sizes:
        out.append("resblock_kernel_sizes and resblock_dilation_sizes must have the same non-zero length")
    if c.upsample_initial_channel >> len(c.upsample_rates) < 1:
        out.append("too many upsampling stages for upsample_initial_channel")
    if c.hidden_channels % max(c.n_heads, 1) or c.n_heads < 1:
        out.append(f"hidden_channels {c.hidden_channels} not divisible by n_heads {c.n_heads}")
    if c.inter_channels % 2:
        out.append("inter_channels must be even (the flow splits it in halves)")
    sizes = [*c.resblock_kernel_sizes, *(d for ds in c.resblock_dilation_sizes for d in ds)]
    if any(v < 1 for v in sizes):
        out.append("resblock kernel sizes and dilations must be positive")
    out += [f"{name}={getattr(c, name)} is implausibly large (limit {limit})"
            for name, limit in _LIMITS.items() if getattr(c, name) > limit]  # fmt: skip
    if (
        max(sizes, default=0) > 64
        or max(c.upsample_kernel_sizes, default=0) > 256
        or len(c.upsample_rates) > 8
    ):
        out.append("implausibly large kernels or too many upsampling stages")
    positive = ("spec_channels", "inter_channels", "hidden_channels", "filter_channels", "n_layers",
                "kernel_size", "n_speakers", "gin_channels", "sample_rate")  # fmt: skip
    out += [f"{name} must be positive" for name in positive if getattr(c, name) < 1]
    return out


# Bounds far above any real RVC model; they stop a crafted config from allocating gigabytes
# before the weights are even compared.
_LIMITS = {
    "spec_channels": 8192, "inter_channels": 2048, "hidden_channels": 2048, "filter_channels": 16384,
    "n_heads": 64, "n_layers": 64, "kernel_size": 63, "upsample_initial_channel": 8192,
    "n_speakers": 100_000, "gin_channels": 4096, "sample_rate": 384_000, "flow_layers": 32,
}  # fmt: skip


# The community config lists (process_ckpt.py writes them verbatim, entry 1 is always 32); v2 40k
# reuses v1 40k. Per (version, rate): upsampling strides, their kernels, spectrogram bins.
_UPSAMPLING: dict[tuple[RvcVersion, int], tuple[tuple[int, ...], tuple[int, ...], int]] = {
    (RvcVersion.V1, 32000): ((10, 4, 2, 2, 2), (16, 16, 4, 4, 4), 513),
    (RvcVersion.V1, 40000): ((10, 10, 2, 2), (16, 16, 4, 4), 1025),
    (RvcVersion.V1, 48000): ((10, 6, 2, 2, 2), (16, 16, 4, 4, 4), 1025),
    (RvcVersion.V2, 32000): ((10, 8, 2, 2), (20, 16, 4, 4), 513),
    (RvcVersion.V2, 40000): ((10, 10, 2, 2), (16, 16, 4, 4), 1025),
    (RvcVersion.V2, 48000): ((12, 10, 2, 2), (24, 20, 4, 4), 1025),
}
KNOWN_VARIANTS = tuple(_UPSAMPLING)


def variant(
    version: RvcVersion = RvcVersion.V2, sample_rate: int = 40000, f0: bool = True, n_speakers: int = 109
) -> RvcConfig:
    """The community configuration of one variant (v1/v2 x 32000/40000/48000)."""
    if (version, sample_rate) not in _UPSAMPLING:
        known = ", ".join(f"{v.value} {r}" for v, r in KNOWN_VARIANTS)
        raise ModelFormatError(f"no community RVC variant {version.value} {sample_rate}; known: {known}")
    rates, kernels, spec = _UPSAMPLING[(version, sample_rate)]
    return RvcConfig(
        version=version, f0=f0, spec_channels=spec, upsample_rates=rates,
        upsample_kernel_sizes=kernels, n_speakers=n_speakers, sample_rate=sample_rate,
    )  # fmt: skip


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelFormatError(f"invalid RVC config list: {what} must be an integer, got {value!r}")
    return value


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise ModelFormatError(f"invalid RVC config list: {what} must be a list, got {value!r}")
    return tuple(_int(v, what) for v in value)


def _rate(value: Any) -> int:
    """Entry 17: an int in Hz; a few forks write the tag ("40k") instead."""
    if isinstance(value, str) and value.endswith("k") and value[:-1].isdigit():
        return int(value[:-1]) * 1000
    return _int(value, "sr")


def from_community(
    config: Sequence[Any], version: Any = "v1", f0: Any = 1, n_speakers: int | None = None
) -> RvcConfig:
    """Adapter from a community voice file's ``config`` / ``version`` / ``f0`` entries.

    ``n_speakers`` (the rows of ``emb_g.weight``) overrides entry 15, as the reference loader
    does. Missing ``version`` / ``f0`` default to "v1" / 1 like the reference.

    Raises:
        ModelFormatError: not an 18-entry list, wrong types, or an impossible network.
    """
    if not isinstance(config, (list, tuple)) or len(config) != CONFIG_LIST_LENGTH:
        n = len(config) if isinstance(config, (list, tuple)) else type(config).__name__
        raise ModelFormatError(f"invalid RVC config: expected {CONFIG_LIST_LENGTH} list entries, got {n}")
    parsed = RvcVersion.parse(version)
    if f0 not in (0, 1, True, False):
        raise ModelFormatError(f"invalid RVC f0 flag {f0!r}; expected 0 or 1")
    dropout = config[8]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise ModelFormatError(f"invalid RVC config list: p_dropout must be a number, got {dropout!r}")
    if not isinstance(config[11], (list, tuple)):
        raise ModelFormatError("invalid RVC config list: resblock_dilation_sizes must be a list of lists")
    return RvcConfig(
        version=parsed,
        f0=bool(f0),
        spec_channels=_int(config[0], "spec_channels"),
        segment_size=_int(config[1], "segment_size"),
        inter_channels=_int(config[2], "inter_channels"),
        hidden_channels=_int(config[3], "hidden_channels"),
        filter_channels=_int(config[4], "filter_channels"),
        n_heads=_int(config[5], "n_heads"),
        n_layers=_int(config[6], "n_layers"),
        kernel_size=_int(config[7], "kernel_size"),
        p_dropout=float(dropout),
        resblock=str(config[9]),
        resblock_kernel_sizes=_ints(config[10], "resblock_kernel_sizes"),
        resblock_dilation_sizes=tuple(_ints(d, "resblock_dilation_sizes") for d in config[11]),
        upsample_rates=_ints(config[12], "upsample_rates"),
        upsample_initial_channel=_int(config[13], "upsample_initial_channel"),
        upsample_kernel_sizes=_ints(config[14], "upsample_kernel_sizes"),
        n_speakers=_int(config[15], "spk_embed_dim") if n_speakers is None else n_speakers,
        gin_channels=_int(config[16], "gin_channels"),
        sample_rate=_rate(config[17]),
    )


def _weight_shape(sd: Mapping[str, torch.Tensor], module: str) -> tuple[int, ...] | None:
    for suffix in (".weight", ".weight_v", ".parametrizations.weight.original1"):
        t = sd.get(module + suffix)
        if t is not None:
            return tuple(t.shape)
    return None


def infer_config_from_state_dict(sd: Mapping[str, torch.Tensor]) -> RvcConfig:
    """Rebuild the config of an RVC generator state dict that came without a config list.

    Sizes come from the shapes; the upsampling strides (not visible in ConvTranspose shapes) are
    matched against the community variants using the kernel sizes, the NSF noise-conv kernels
    (f0 models) and the ``enc_q`` input size (training checkpoints).

    Raises:
        ModelFormatError: when no community variant fits, or several do.
    """
    try:
        base = _sizes_from_shapes(sd)
    except (KeyError, IndexError, TypeError) as exc:
        raise ModelFormatError(f"not an RVC generator state dict (missing {exc})") from exc
    kernels = tuple(_weight_shape(sd, f"dec.ups.{i}")[2] for i in range(_count(sd, "dec.ups.")))  # type: ignore[index]
    noise = tuple(sd[f"dec.noise_convs.{i}.weight"].shape[2] for i in range(_count(sd, "dec.noise_convs.")))
    enc_q = _weight_shape(sd, "enc_q.pre")
    fits = set()
    for (version, rate), (rates, ks, spec) in _UPSAMPLING.items():
        if version != base.version or ks != kernels or (enc_q is not None and enc_q[1] != spec):
            continue
        if noise and noise != tuple(2 * math.prod(rates[i + 1 :]) if i + 1 < len(rates) else 1
                                    for i in range(len(rates))):  # fmt: skip
            continue
        fits.add((rates, rate, spec))
    if len(fits) != 1:
        why = "no community variant fits" if not fits else "several community variants fit"
        raise ModelFormatError(f"cannot tell this RVC generator's sample rate from its shapes ({why})")
    rates, rate, spec = fits.pop()
    return replace(base, upsample_rates=rates, upsample_kernel_sizes=kernels, sample_rate=rate,
                   spec_channels=enc_q[1] if enc_q else spec)  # fmt: skip


def _count(sd: Mapping[str, Any], prefix: str) -> int:
    return len({k[len(prefix) :].split(".", 1)[0] for k in sd if k.startswith(prefix)})


def _sizes_from_shapes(sd: Mapping[str, torch.Tensor]) -> RvcConfig:
    hidden, dim = sd["enc_p.emb_phone.weight"].shape
    rel = sd["enc_p.encoder.attn_layers.0.emb_rel_k"].shape
    ffn = sd["enc_p.encoder.ffn_layers.0.conv_1.weight"].shape
    n_res = _count(sd, "dec.resblocks.")
    n_ups = _count(sd, "dec.ups.")
    per_stage = n_res // max(n_ups, 1)
    res_kernels = tuple(_weight_shape(sd, f"dec.resblocks.{j}.convs1.0") or
                        _weight_shape(sd, f"dec.resblocks.{j}.convs.0") or (0, 0, 0)
                        for j in range(per_stage))  # fmt: skip
    resblock = "1" if any(k.startswith("dec.resblocks.0.convs1.") for k in sd) else "2"
    dil = (1, 3, 5) if resblock == "1" else (1, 3)
    return RvcConfig(
        version=RvcVersion.from_content_dim(int(dim)),
        f0="enc_p.emb_pitch.weight" in sd,
        inter_channels=int(sd["enc_p.proj.weight"].shape[0]) // 2,
        hidden_channels=int(hidden),
        filter_channels=int(ffn[0]),
        n_heads=int(hidden) // int(rel[2]),
        n_layers=_count(sd, "enc_p.encoder.attn_layers."),
        kernel_size=int(ffn[2]),
        resblock=resblock,
        resblock_kernel_sizes=tuple(int(s[2]) for s in res_kernels),
        resblock_dilation_sizes=tuple(dil for _ in res_kernels),
        upsample_initial_channel=int(sd["dec.conv_pre.weight"].shape[0]),
        n_speakers=int(sd["emb_g.weight"].shape[0]),
        gin_channels=int(sd["emb_g.weight"].shape[1]),
        flow_layers=_count(sd, "flow.flows.") or 4,
    )
