"""Spectrogram front end and the GAN-TTS losses of RVC training (VITS-style).

Shapes: waves ``[B, N]`` or ``[B, 1, N]``; spectrograms ``[B, F, T]``; discriminator outputs lists
(one entry per sub-discriminator) of ``[B, ...]`` scores and lists of feature maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
import torchaudio

from training.config import AudioConfig


@lru_cache(maxsize=16)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    """Slaney-normalised mel filters ``[n_mels, n_fft//2+1]`` (librosa's defaults)."""
    fb = torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1,
        fmin,
        fmax if fmax is not None else sr / 2,
        n_mels,
        sr,
        norm="slaney",
        mel_scale="slaney",
    )
    return fb.T.contiguous()


@lru_cache(maxsize=16)
def _window(win: int) -> torch.Tensor:
    return torch.hann_window(win)


def spectrogram(y: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Linear magnitude ``[B, n_fft//2+1, N//hop]`` from a wave ``[B, N]`` (reflect pad, no centring)."""
    if y.dim() == 3:
        y = y.squeeze(1)
    pad = (cfg.filter_length - cfg.hop_length) // 2
    y = F.pad(y.float().unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    spec = torch.stft(
        y,
        cfg.filter_length,
        hop_length=cfg.hop_length,
        win_length=cfg.win_length,
        window=_window(cfg.win_length).to(y.device),
        center=False,
        return_complex=True,
    )
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)


def spec_to_mel(spec: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Log-mel ``[B, n_mels, T]`` from a linear spectrogram."""
    basis = _mel_basis(cfg.sample_rate, cfg.filter_length, cfg.n_mel_channels, cfg.mel_fmin, cfg.mel_fmax)
    mel = torch.matmul(basis.to(spec.device), spec.float())
    return torch.log(torch.clamp(mel, min=1e-5))


def mel_spectrogram(y: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Log-mel ``[B, n_mels, N//hop]`` from a wave."""
    return spec_to_mel(spectrogram(y, cfg), cfg)


def feature_loss(
    fmap_r: Sequence[Sequence[torch.Tensor]], fmap_g: Sequence[Sequence[torch.Tensor]]
) -> torch.Tensor:
    """Feature matching: 2 x sum of mean |real - fake| over every discriminator layer."""
    loss = torch.zeros((), device=fmap_g[0][0].device)
    for dr, dg in zip(fmap_r, fmap_g, strict=True):
        for rl, gl in zip(dr, dg, strict=True):
            loss = loss + torch.mean(torch.abs(rl.float().detach() - gl.float()))
    return loss * 2


def discriminator_loss(
    real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[float], list[float]]:
    """LSGAN discriminator loss: sum of mean (1 - D(real))^2 + mean D(fake)^2."""
    loss = torch.zeros((), device=real[0].device)
    r_losses, g_losses = [], []
    for dr, dg in zip(real, fake, strict=True):
        r = torch.mean((1 - dr.float()) ** 2)
        g = torch.mean(dg.float() ** 2)
        loss = loss + r + g
        r_losses.append(r.item())
        g_losses.append(g.item())
    return loss, r_losses, g_losses


def generator_loss(fake: Sequence[torch.Tensor]) -> torch.Tensor:
    """LSGAN generator loss: sum of mean (1 - D(fake))^2."""
    loss = torch.zeros((), device=fake[0].device)
    for dg in fake:
        loss = loss + torch.mean((1 - dg.float()) ** 2)
    return loss


def kl_loss(
    z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, z_mask: torch.Tensor
) -> torch.Tensor:
    """KL between the flowed posterior sample and the prior, all ``[B, C, T]``; mask ``[B, 1, T]``."""
    z_p, logs_q, m_p, logs_p, z_mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, z_mask))
    kl = logs_p - logs_q - 0.5
    kl = kl + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def multi_resolution_mel_loss(
    y_hat: torch.Tensor, y: torch.Tensor, sample_rate: int, resolutions: Sequence[tuple[int, int, int]]
) -> torch.Tensor:
    """Mean L1 of log-mels at several (n_fft, hop, n_mels) resolutions (LLVC's reconstruction loss)."""
    loss = torch.zeros((), device=y.device)
    for n_fft, hop, n_mels in resolutions:
        cfg = AudioConfig(sample_rate, n_fft, hop, n_fft, n_mels)
        loss = loss + F.l1_loss(mel_spectrogram(y_hat, cfg), mel_spectrogram(y, cfg))
    return loss / len(resolutions)
