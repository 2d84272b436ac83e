"""Numerical glue steps of the reference RVC pipelines, one small pure function each.

Every function reproduces one step of the reference's offline (``Pipeline.pipeline``) or
realtime (``rtrvc.RVC.infer``) path, including its dtypes, because the golden parity tests
compare them bit for bit. Shapes: ``T`` content frames (50/s), ``P`` pitch frames (100/s).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import signal

from models.pitch import f0 as pitch_f0

SR_16K = 16000
WINDOW = 160
"""Samples per pitch frame at 16 kHz (10 ms)."""
F0_MIN = 50.0
F0_MAX = 1100.0

HPF_B, HPF_A = signal.butter(N=5, Wn=48, btype="high", fs=SR_16K)
"""The reference's 5th-order 48 Hz Butterworth high-pass at 16 kHz (float64)."""


def peak_normalize(x: np.ndarray) -> np.ndarray:
    """``[N]`` float32: divide by ``max|x|/0.95`` only when that exceeds 1 (loud inputs)."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    m = np.abs(x).max() / np.float32(0.95)
    return x / m if m > 1 else x


def highpass(x: np.ndarray) -> np.ndarray:
    """``[N]`` float32 -> float64: zero-phase 48 Hz high-pass (scipy ``filtfilt`` defaults)."""
    return signal.filtfilt(HPF_B, HPF_A, x)


def reflect_pad(x: np.ndarray, n: int) -> np.ndarray:
    """Mirror-pad ``n`` samples on each side without repeating the edge sample (numpy 'reflect')."""
    return np.pad(x, (n, n), mode="reflect")


def shift_f0(f0: np.ndarray, semitones: float) -> np.ndarray:
    """Multiply f0 (Hz, 0 = unvoiced) by ``2**(semitones/12)`` in float64."""
    return np.asarray(f0, dtype=np.float64) * pow(2, semitones / 12)


def coarse_pitch(f0: np.ndarray) -> np.ndarray:
    """Offline coarse pitch ``[P]`` int32 in 1..255: RVC's mel mapping in float64, ``np.rint``."""
    return pitch_f0.coarse_pitch(np.asarray(f0, dtype=np.float64))


coarse_pitch_torch = pitch_f0.coarse_pitch_torch
"""Realtime coarse pitch: the same mapping in torch float32 with ``torch.round`` -> int64."""


def upsample2(feats: torch.Tensor) -> torch.Tensor:
    """``[B, T, C]`` -> ``[B, 2T, C]``: nearest ×2 (every 20 ms frame repeated twice)."""
    return torch.repeat_interleave(feats, 2, dim=1)


def protect_blend(
    feats: torch.Tensor, feats0: torch.Tensor, pitchf: torch.Tensor, protect: float
) -> torch.Tensor:
    """Keep ``protect`` of the retrieval-blended features on unvoiced frames (pitchf < 1 Hz).

    ``feats``/``feats0`` ``[B, P, C]`` (blended / before retrieval), ``pitchf`` ``[B, P]``.
    """
    w = pitchf.clone()
    w[pitchf > 0] = 1
    w[pitchf < 1] = protect
    w = w.unsqueeze(-1)
    return (feats * w + feats0 * (1 - w)).to(feats0.dtype)


def frame_rms(x: np.ndarray, frame_length: int, hop_length: int, chunk: int = 64) -> np.ndarray:
    """librosa ``feature.rms`` (centred, zero padding): ``[N]`` -> ``[1 + N // hop]`` float32.

    Values are squared in float32 and averaged over each frame in the same order as librosa's
    reduction over the frame axis; frames are processed ``chunk`` at a time to bound memory.
    """
    pad = frame_length // 2
    y = np.pad(np.asarray(x), (pad, pad), mode="constant")
    n_frames = 1 + (len(y) - frame_length) // hop_length
    out = np.empty(n_frames, dtype=np.float32)
    stride = y.strides[0]
    for start in range(0, n_frames, chunk):
        count = min(chunk, n_frames - start)
        view = np.lib.stride_tricks.as_strided(
            y[start * hop_length :], shape=(frame_length, count), strides=(stride, hop_length * stride)
        )
        power = np.mean(np.square(view, dtype=np.float32), axis=0, keepdims=True)
        out[start : start + count] = np.sqrt(power)[0]
    return out


def interp_linear(frames: np.ndarray, size: int) -> torch.Tensor:
    """``[F]`` -> ``[size]``: torch linear interpolation, ``align_corners=False``."""
    t = torch.from_numpy(np.ascontiguousarray(frames))[None, None]
    return F.interpolate(t, size=size, mode="linear").squeeze()


def rms_mix(
    source16k: np.ndarray, out: np.ndarray, out_rate: int, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Impose ``1 − rate`` of the input loudness envelope on ``out`` (reference ``change_rms``).

    ``source16k`` is the high-passed, unpadded input; ``out`` the float32 output at ``out_rate``.
    Returns ``(mixed, rms1_frames, rms2_frames)``.
    """
    rms1 = frame_rms(source16k, SR_16K // 2 * 2, SR_16K // 2)
    rms2 = frame_rms(out, out_rate // 2 * 2, out_rate // 2)
    # in place: three output-length float32 arrays at most (a 10-minute 40 kHz output is 96 MB each)
    gain = interp_linear(rms1, out.shape[0]).pow_(torch.tensor(1 - rate))
    env2 = interp_linear(rms2, out.shape[0]).clamp_min_(1e-6).pow_(torch.tensor(rate - 1))
    gain.mul_(env2)
    del env2
    mixed = gain.mul_(torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32))).numpy()
    return mixed, rms1, rms2


def to_int16(y: np.ndarray) -> np.ndarray:
    """Reference int16 output: scale 32768, reduced so the peak sits at 0.99 if louder; truncate."""
    y = np.asarray(y, dtype=np.float32)
    scale = 32768
    if y.size:
        peak = max(y.max(), -y.min()) / np.float32(0.99)  # = |y|.max(), without an |y| copy
        if peak > 1:
            scale = scale / peak
    out = np.empty(y.shape, dtype=np.int16)
    step = 1 << 20  # blockwise: no output-length float temporary
    for i in range(0, y.size, step):
        out[i : i + step] = y[i : i + step] * scale
    return out


def split_points(audio: np.ndarray, t_center: int, t_query: int, t_max: int) -> list[int]:
    """Segment cut points (16 kHz samples) at the quietest 10 ms near every ``t_center`` samples.

    ``audio`` is the high-passed signal. Only files longer than ``t_max`` are split. Each cut is
    the first minimum of ``|moving 160-sample sum|`` within ``±t_query`` of a multiple of
    ``t_center``. Returned unrounded, as the reference computes them.
    """
    half = WINDOW // 2
    if len(audio) + 2 * half <= t_max:
        return []
    padded = np.pad(audio, (half, half), mode="reflect")
    window_sum = np.zeros_like(audio)
    for i in range(WINDOW):
        window_sum += padded[i : i - WINDOW]
    cuts = []
    for t in range(t_center, audio.shape[0], t_center):
        region = np.abs(window_sum[t - t_query : t + t_query])
        cuts.append(t - t_query + int(np.where(region == region.min())[0][0]))
    return cuts
