"""Multi-period discriminator of RVC (HiFi-GAN's MPD plus one scale discriminator).

The state-dict layout matches the reference (``discriminators.{i}.convs.{j}`` / ``conv_post``), so
community pretrained ``f0D40k.pth``-style files load strictly after the weight-norm key mapping in
:func:`training.wnorm.from_community`. v1 uses periods (2, 3, 5, 7, 11, 17), v2 adds 23 and 37.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LRELU_SLOPE = 0.1

Scores = list[torch.Tensor]
FeatureMaps = list[list[torch.Tensor]]


def _ch(c: int, scale: float) -> int:
    return c if scale == 1.0 else max(4, int(c * scale))


def _groups(g: int, cin: int, cout: int) -> int:
    return gcd(g, gcd(cin, cout))


class DiscriminatorS(nn.Module):
    """Scale discriminator on the raw wave ``[B, 1, N]``: grouped strided 1-D convs."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        # (in, out, kernel, stride, groups, padding) of the reference
        spec = [
            (1, 16, 15, 1, 1, 7),
            (16, 64, 41, 4, 4, 20),
            (64, 256, 41, 4, 16, 20),
            (256, 1024, 41, 4, 64, 20),
            (1024, 1024, 41, 4, 256, 20),
            (1024, 1024, 5, 1, 1, 2),
        ]
        convs = []
        for cin, cout, k, s, g, p in spec:
            ci, co = (1 if cin == 1 else _ch(cin, scale)), _ch(cout, scale)
            convs.append(weight_norm(nn.Conv1d(ci, co, k, s, groups=_groups(g, ci, co), padding=p)))
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv1d(_ch(1024, scale), 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class DiscriminatorP(nn.Module):
    """Period discriminator: the wave folded into ``[B, 1, N/p, p]`` and 2-D convs along time."""

    def __init__(self, period: int, scale: float = 1.0, kernel_size: int = 5, stride: int = 3) -> None:
        super().__init__()
        self.period = period
        chans = [1, 32, 128, 512, 1024, 1024]
        convs = []
        for i in range(5):
            ci = 1 if i == 0 else _ch(chans[i], scale)
            s = stride if i < 4 else 1
            convs.append(
                weight_norm(nn.Conv2d(ci, _ch(chans[i + 1], scale), (kernel_size, 1), (s, 1), padding=(2, 0)))
            )
        self.convs = nn.ModuleList(convs)
        self.conv_post = weight_norm(nn.Conv2d(_ch(1024, scale), 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), "reflect")
            t = t + n_pad
        x = x.view(b, c, t // self.period, self.period)
        fmap = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LRELU_SLOPE)
            fmap.append(x)
        x = self.conv_post(x)
        fmap.append(x)
        return torch.flatten(x, 1, -1), fmap


class MultiPeriodDiscriminator(nn.Module):
    """One scale discriminator followed by one period discriminator per period."""

    def __init__(self, periods: Sequence[int], scale: float = 1.0) -> None:
        super().__init__()
        if not periods:
            raise ValueError("at least one period is needed")
        discs: list[nn.Module] = [DiscriminatorS(scale)]
        discs.extend(DiscriminatorP(p, scale) for p in periods)
        self.discriminators = nn.ModuleList(discs)

    def forward(
        self, y: torch.Tensor, y_hat: torch.Tensor
    ) -> tuple[Scores, Scores, FeatureMaps, FeatureMaps]:
        """Real ``y`` and generated ``y_hat`` ``[B, 1, N]`` -> scores and feature maps of each."""
        y_r, y_g, f_r, f_g = [], [], [], []
        for d in self.discriminators:
            score_r, fmap_r = d(y)
            score_g, fmap_g = d(y_hat)
            y_r.append(score_r)
            y_g.append(score_g)
            f_r.append(fmap_r)
            f_g.append(fmap_g)
        return y_r, y_g, f_r, f_g
