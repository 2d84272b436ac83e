"""RMVPE pitch estimator (RVC's ``rmvpe.pt``): log-mel front end, U-Net, BiGRU, local-average decode.

Module and parameter names equal the reference ``E2E(4, 1, (2, 2))`` state dict, so the bare
state dict in ``rmvpe.pt`` loads with ``strict=True``. After loading, every conv + BatchNorm pair
is folded into one conv (inference only: running statistics are constants).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint import detect, safe_load
from models.errors import ModelFormatError
from models.kinds import ModelKind
from models.memory import build_on_meta, load_assigned, release_memory

N_CLASSES = 360
CENTS_OFFSET = 1997.3794084376191
"""Cents of bin 0 (20 cents per bin, relative to 10 Hz)."""
DEFAULT_THRESHOLD = 0.03
"""RVC's voicing threshold on the peak salience (offline and realtime)."""


@dataclass(frozen=True)
class MelConfig:
    """RMVPE's log-mel front end (not stored in the file)."""

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 128
    fmin: float = 30.0
    fmax: float = 8000.0
    clamp: float = 1e-5

    def frames(self, n_samples: int) -> int:
        """Frames of a centred STFT: ``1 + N // hop``."""
        return 1 + n_samples // self.hop_length


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """``[n_mels, n_fft//2+1]`` float32 HTK-scale, Slaney-normalised triangles.

    Equals ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=True)`` (float64 math, float32
    storage, normalisation applied in float64 on the stored float32 values, as librosa does).
    """
    n_bins = 1 + cfg.n_fft // 2
    fft_freqs = np.fft.rfftfreq(n=cfg.n_fft, d=1.0 / cfg.sample_rate)

    def hz_to_mel(f: float) -> float:
        return float(2595.0 * np.log10(1.0 + f / 700.0))

    mels = np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2)
    mel_f = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((cfg.n_mels, n_bins), dtype=np.float32)
    for i in range(cfg.n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : cfg.n_mels + 2] - mel_f[: cfg.n_mels])
    weights *= enorm[:, np.newaxis]
    return weights


class MelSpectrogram(nn.Module):
    """``[B, N]`` audio -> ``[B, n_mels, 1 + N // hop]`` natural-log mel magnitudes."""

    mel_basis: torch.Tensor
    window: torch.Tensor

    def __init__(self, cfg: MelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(cfg)), persistent=False)
        self.register_buffer("window", torch.hann_window(cfg.win_length), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            audio,
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            win_length=self.cfg.win_length,
            window=self.window,
            center=True,
            return_complex=True,
        )
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2))
        mel = torch.matmul(self.mel_basis, magnitude)
        return torch.log(torch.clamp(mel, min=self.cfg.clamp))


class ConvBlockRes(nn.Module):
    """Two (3x3 conv, BatchNorm, ReLU) with a residual (1x1 conv shortcut when channels change)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
        )
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + (self.shortcut(x) if self.shortcut is not None else x)


class ResEncoderBlock(nn.Module):
    """``n_blocks`` ConvBlockRes (the encoder pools their output; pooling has no parameters)."""

    def __init__(self, in_ch: int, out_ch: int, n_blocks: int) -> None:
        super().__init__()
        self.conv = nn.ModuleList(ConvBlockRes(in_ch if i == 0 else out_ch, out_ch) for i in range(n_blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.conv:
            x = block(x)
        return x


class Encoder(nn.Module):
    def __init__(self, in_ch: int, n_layers: int, pool: tuple[int, int], n_blocks: int, out_ch: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_ch)
        self.pool = nn.AvgPool2d(pool)
        self.layers = nn.ModuleList()
        for _ in range(n_layers):
            self.layers.append(ResEncoderBlock(in_ch, out_ch, n_blocks))
            in_ch, out_ch = out_ch, out_ch * 2
        self.out_channels = out_ch

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        skips = []
        x = self.bn(x)
        for layer in self.layers:
            x = layer(x)
            skips.append(x)
            x = self.pool(x)
        return x, skips


class Intermediate(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, n_layers: int, n_blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            ResEncoderBlock(in_ch if i == 0 else out_ch, out_ch, n_blocks) for i in range(n_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class ResDecoderBlock(nn.Module):
    """Transposed conv (x2 up) + BN + ReLU, concat with the skip, then ``n_blocks`` ConvBlockRes."""

    def __init__(self, in_ch: int, out_ch: int, stride: tuple[int, int], n_blocks: int) -> None:
        super().__init__()
        out_pad = (0, 1) if stride == (1, 2) else (1, 1)
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(in_ch, out_ch, 3, stride, padding=1, output_padding=out_pad, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
        )
        self.conv2 = nn.ModuleList(
            ConvBlockRes(out_ch * 2 if i == 0 else out_ch, out_ch) for i in range(n_blocks)
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = torch.cat((self.conv1(x), skip), dim=1)
        for block in self.conv2:
            x = block(x)
        return x


class Decoder(nn.Module):
    def __init__(self, in_ch: int, n_layers: int, stride: tuple[int, int], n_blocks: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(n_layers):
            self.layers.append(ResDecoderBlock(in_ch, in_ch // 2, stride, n_blocks))
            in_ch //= 2

    def forward(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x, skips[-1 - i])
        return x


class DeepUnet(nn.Module):
    def __init__(
        self, pool: tuple[int, int], n_blocks: int, layers: int, inter: int, in_ch: int, base: int
    ) -> None:
        super().__init__()
        self.encoder = Encoder(in_ch, layers, pool, n_blocks, base)
        top = self.encoder.out_channels
        self.intermediate = Intermediate(top // 2, top, inter, n_blocks)
        self.decoder = Decoder(top, layers, pool, n_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, skips = self.encoder(x)
        return self.decoder(self.intermediate(x), skips)


class BiGRU(nn.Module):
    def __init__(self, in_features: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.gru = nn.GRU(in_features, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


class E2E(nn.Module):
    """``[B, 128, T]`` log-mel (T a multiple of 32) -> ``[B, T, 360]`` salience in (0, 1)."""

    def __init__(
        self, n_blocks: int = 4, n_gru: int = 1, pool: tuple[int, int] = (2, 2), n_mels: int = 128
    ) -> None:
        super().__init__()
        self.unet = DeepUnet(pool, n_blocks, layers=5, inter=4, in_ch=1, base=16)
        self.cnn = nn.Conv2d(16, 3, 3, padding=1)
        self.fc = nn.Sequential(
            BiGRU(3 * n_mels, 256, n_gru), nn.Linear(512, N_CLASSES), nn.Identity(), nn.Sigmoid()
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = mel.transpose(-1, -2).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        x = self.cnn(self.unet(x))
        return self.fc(x.transpose(1, 2).flatten(-2))


def _fold_bn(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d) -> nn.Module:
    """One conv with the BatchNorm's affine map folded into its weight and bias."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() - bn.running_mean * scale
    fused: nn.Conv2d | nn.ConvTranspose2d
    if isinstance(conv, nn.ConvTranspose2d):
        fused = nn.ConvTranspose2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            stride=conv.stride,  # type: ignore[arg-type]
            padding=conv.padding,  # type: ignore[arg-type]
            output_padding=conv.output_padding,  # type: ignore[arg-type]
        )
    else:
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            stride=conv.stride,  # type: ignore[arg-type]
            padding=conv.padding,  # type: ignore[arg-type]
        )
    w = conv.weight.detach()
    # Conv2d weights are [out, in, kh, kw]; ConvTranspose2d weights are [in, out, kh, kw].
    shape = (1, -1, 1, 1) if isinstance(conv, nn.ConvTranspose2d) else (-1, 1, 1, 1)
    fused.weight.data.copy_(w * scale.reshape(shape))
    assert fused.bias is not None
    fused.bias.data.copy_(shift + (conv.bias.detach() * scale if conv.bias is not None else 0))
    return fused


def fold_batchnorms(model: nn.Module) -> None:
    """Fold every (conv, BatchNorm) pair of every ``nn.Sequential`` in place (eval only)."""
    for module in model.modules():
        if not isinstance(module, nn.Sequential):
            continue
        for i in range(len(module) - 1):
            conv, bn = module[i], module[i + 1]
            if isinstance(conv, nn.Conv2d | nn.ConvTranspose2d) and isinstance(bn, nn.BatchNorm2d):
                module[i] = _fold_bn(conv, bn)
                module[i + 1] = nn.Identity()


def decode_cents(salience: np.ndarray, threshold: float) -> np.ndarray:
    """``[T, 360]`` salience -> ``[T]`` float64 cents: salience-weighted mean of the 9 bins around
    the argmax (zero-padded at the edges); 0 where the peak salience is <= ``threshold``."""
    mapping = np.pad(20 * np.arange(N_CLASSES) + CENTS_OFFSET, (4, 4))
    padded = np.pad(salience, ((0, 0), (4, 4)))
    idx = np.argmax(salience, axis=1)[:, None] + np.arange(9)[None, :]
    window = np.take_along_axis(padded, idx, axis=1)
    cents = np.sum(window * mapping[idx], 1) / np.sum(window, 1)
    cents[np.max(padded, axis=1) <= threshold] = 0
    return cents


def cents_to_hz(cents: np.ndarray) -> np.ndarray:
    """``f0 = 10 * 2**(cents/1200)``; 0 cents (unvoiced) -> 0 Hz."""
    f0 = 10 * (2 ** (cents / 1200))
    f0[f0 == 10] = 0
    return f0


class RMVPE:
    """A loaded RMVPE on one device.

    ``mel(wav16k) -> [1, 128, T]`` (torch), ``salience(wav16k) -> [T, 360]`` (numpy float32),
    ``f0(wav16k, threshold=0.03) -> [T]`` (numpy float64, Hz, 0 = unvoiced), T = 1 + N // 160.
    """

    def __init__(self, net: E2E, device: str | torch.device = "cpu", half: bool = False) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if half else torch.float32
        self.mel_cfg = MelConfig()
        self.mel_extractor = MelSpectrogram(self.mel_cfg).to(self.device)
        net.eval()
        fold_batchnorms(net)
        # channels-last is ~2x faster for these small 2-D convs on CPU (oneDNN-friendly layout).
        self.net = net.to(self.device, self.dtype).to(memory_format=torch.channels_last)

    def _audio(self, wav16k: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(wav16k)
        if x.dim() == 2 and x.shape[0] == 1:
            x = x[0]
        if x.dim() != 1 or x.numel() <= self.mel_cfg.n_fft // 2:
            raise ValueError(
                f"wav16k must be a 1-D signal of more than {self.mel_cfg.n_fft // 2} samples "
                f"(the STFT reflects {self.mel_cfg.n_fft // 2} at each end), got shape {tuple(x.shape)}"
            )
        return x.to(self.device, torch.float32)

    def mel(self, wav16k: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``[N]`` 16 kHz audio -> ``[1, 128, 1 + N // 160]`` log-mel (float32)."""
        with torch.inference_mode():
            return self.mel_extractor(self._audio(wav16k).unsqueeze(0))

    def mel_to_salience(self, mel: torch.Tensor) -> torch.Tensor:
        """``[1, 128, T]`` -> ``[T, 360]``: pads T with 0.0 to a multiple of 32, runs, cuts back."""
        n_frames = mel.shape[-1]
        with torch.inference_mode():
            padded = F.pad(mel, (0, (-n_frames) % 32)).to(self.dtype)
            return self.net(padded)[0, :n_frames].float()

    def salience(self, wav16k: torch.Tensor | np.ndarray) -> np.ndarray:
        """``[N]`` audio -> ``[T, 360]`` float32 salience (the reference's ``hidden``)."""
        return self.mel_to_salience(self.mel(wav16k)).cpu().numpy()

    def f0(self, wav16k: torch.Tensor | np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
        """``[N]`` audio -> ``[1 + N // 160]`` float64 f0 in Hz (0 where unvoiced)."""
        return cents_to_hz(decode_cents(self.salience(wav16k), threshold))


def load_rmvpe(path: str | Path, device: str | torch.device = "cpu", half: bool = False) -> RMVPE:
    """Load ``rmvpe.pt`` (a bare ``E2E(4, 1, (2, 2))`` state dict, usually fp16) for inference.

    Raises :class:`ModelFormatError` with a one-line message if the file is not such a model.
    """
    name = Path(path).name
    obj = safe_load(path, mmap=True)
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not any(str(k).startswith("unet.encoder.") for k in obj):
        raise _kind_error(path)
    # owned float32 copies, one tensor at a time (the file's mapping is released after loading)
    state = {
        k: v.to(torch.float32 if v.is_floating_point() else v.dtype, copy=True)
        for k, v in obj.items()
        if isinstance(v, torch.Tensor)
    }
    net = build_on_meta(E2E)
    try:
        load_assigned(net, state)
    except RuntimeError:
        expected = set(net.state_dict())
        missing = sorted(k for k in expected - set(state) if not k.endswith("num_batches_tracked"))
        unexpected = sorted(set(state) - expected)
        raise ModelFormatError(
            f"{name} does not fit RMVPE E2E(4,1,(2,2)): missing {missing[:5]}, unexpected {unexpected[:5]}"
            + ("" if missing or unexpected else " (tensor shapes differ)")
        ) from None
    del obj, state
    rmvpe = RMVPE(net, device=device, half=half)
    release_memory()
    return rmvpe


def _kind_error(path: str | Path) -> ModelFormatError:
    try:
        found = detect(path)
    except ModelFormatError as err:
        return ModelFormatError(f"{err}, expected {ModelKind.RMVPE.description}")
    return ModelFormatError(
        f"{Path(path).name} is {found.description}, expected {ModelKind.RMVPE.description}"
    )
