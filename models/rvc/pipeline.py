"""Offline RVC conversion: the reference ``Pipeline.pipeline`` of the WebUI inference tab.

``RvcPipeline.convert_array(x, sr)`` turns a mono signal into the voice: 16 kHz resampling, peak
rule, 48 Hz zero-phase high-pass, segments cut at quiet points (inputs over ``x_max`` seconds),
1 s reflect padding per segment, f0 + key shift + coarse pitch, HuBERT/ContentVec features,
retrieval blend, ×2 upsampling, protect, synthesis, trim, RMS envelope mix and the reference's
int16 scaling. Working memory is that of one segment (cut near every ``long_center`` s for long
inputs) plus the signal itself; the models run in three passes over the segments (pitch,
content, synthesis), so lazily loaded encoders are held one at a time, and the decoder works in
windows (``models.rvc.net.Generator``).

Two deliberate differences from the reference, both for inputs longer than ``x_max`` (41 s
on the CPU config) only: it tracks f0 over the whole padded file at once (memory proportional
to the file length), here f0 is tracked per segment over the same padded samples the
segment's synthesis uses; and it cuts near every 38 s, here near every ``long_center`` (10 s).
Single-segment inputs are converted exactly as the reference does.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from models.errors import VoxshiftError
from models.kinds import RvcVersion
from models.memory import release_memory
from models.retrieval import FeatureIndex, blend
from models.rvc import glue
from models.rvc.net import InferResult

ProgressFn = Callable[[float], None]
"""Receives the done fraction in 0..1."""


class ConversionCancelledError(VoxshiftError):
    """The user cancelled a conversion; nothing was written."""


class ContentEncoder(Protocol):
    def extract(self, wav16k: torch.Tensor, layer: int, final_proj: bool) -> torch.Tensor:
        """``[B, N]`` 16 kHz audio -> ``[B, T, C]`` features (T ≈ N/320 − 1)."""
        ...


F0Estimator = Callable[[np.ndarray], np.ndarray]
"""``[N]`` float32 16 kHz audio -> ``[1 + N // 160]`` f0 in Hz (float64, 0 = unvoiced)."""


class Synthesizer(Protocol):
    """What the pipelines call on an RVC network (:meth:`models.rvc.net.SynthesizerTrn.infer`)."""

    def infer(
        self,
        phone: torch.Tensor,
        phone_lengths: torch.Tensor,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        sid: torch.Tensor | int | None = None,
        skip_head: int | None = None,
        return_length: int | None = None,
    ) -> InferResult: ...


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of one offline conversion. Defaults are the WebUI's, on its CPU config."""

    pitch: float = 0.0
    """Key shift in semitones."""
    index_rate: float = 0.75
    protect: float = 0.33
    """Share of the retrieval-blended features kept on unvoiced frames; 0.5 or more disables."""
    rms_mix_rate: float = 0.25
    """1 keeps the output's loudness envelope; 0 imposes the input's."""
    sid: int = 0
    output_rate: int | None = None
    """Output sample rate; None = the model's rate."""
    x_pad: int = 1
    """Seconds of reflect padding (and trim) per segment side. GPU configs use 3."""
    x_query: int = 6
    x_center: int = 38
    x_max: int = 41
    """Inputs longer than this many seconds are split into segments."""
    long_center: int | None = 10
    """Segment spacing (seconds) for inputs longer than ``x_max``: cuts near every
    ``min(x_center, long_center)`` seconds, searched within ``±min(x_query, spacing // 3)``.
    The reference cuts near every ``x_center`` (38 s); shorter segments keep the memory of a
    long conversion low (HuBERT's first conv and the encoder's attention grow with the segment),
    at the cost of a few more seams at quiet points (each with 1 s of real context). None = as
    the reference."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.index_rate <= 1.0:
            raise ValueError(f"index_rate must be within 0..1, got {self.index_rate}")
        if not 0.0 <= self.rms_mix_rate <= 1.0:
            raise ValueError(f"rms_mix_rate must be within 0..1, got {self.rms_mix_rate}")
        if self.protect < 0:
            raise ValueError(f"protect must be >= 0, got {self.protect}")
        if not 0 < self.x_query < self.x_center < self.x_max:
            raise ValueError("need 0 < x_query < x_center < x_max")
        if self.x_pad < 1:
            raise ValueError("x_pad must be at least 1 second")
        if self.long_center is not None and self.long_center < 3:
            raise ValueError("long_center must be at least 3 seconds (or None)")

    def split_spacing(self) -> tuple[int, int]:
        """``(center, query)`` seconds used to cut an input longer than ``x_max``."""
        if self.long_center is None:
            return self.x_center, self.x_query
        center = min(self.x_center, self.long_center)
        return center, min(self.x_query, max(1, center // 3))


@dataclass
class SegmentTrace:
    """Intermediates of one segment (kept only when tracing, for tests and debugging)."""

    padded: np.ndarray
    f0: np.ndarray | None = None
    pitch: torch.Tensor | None = None
    pitchf: torch.Tensor | None = None
    feats: torch.Tensor | None = None
    retrieval: Any = None
    net_feats: torch.Tensor | None = None
    synth: np.ndarray | None = None


class RvcPipeline:
    """Reference offline conversion with injected components.

    ``synthesizer``: the voice's net (:class:`Synthesizer`);
    ``content``: HuBERT/ContentVec; ``f0``: a pitch estimator (None for no-f0 voices);
    ``index``: retrieval vectors or None.
    """

    input_rate = glue.SR_16K
    """The rate the conversion works at (other rates are resampled first; file conversion
    resamples while reading, see ``models.offline``)."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        model_rate: int,
        version: RvcVersion,
        content: ContentEncoder,
        f0: F0Estimator | None,
        index: FeatureIndex | None = None,
        config: PipelineConfig | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.model_rate = int(model_rate)
        self.version = version
        self.content = content
        self.f0 = f0
        self.index = index
        self.config = config or PipelineConfig()
        self.trace: list[SegmentTrace] | None = None
        self.progress: ProgressFn | None = None
        """Default progress callback (per segment) when ``convert_array`` is called without one."""
        self.cancel: threading.Event | None = None
        """Default cancel event, checked between segments."""

    def with_config(self, **changes: Any) -> RvcPipeline:
        """A pipeline sharing the models, with some settings changed."""
        out = RvcPipeline(
            self.synthesizer, self.model_rate, self.version, self.content, self.f0, self.index, self.config
        )
        out.config = replace(self.config, **changes)
        return out

    # -- sizes ---------------------------------------------------------------------------
    @property
    def t_pad(self) -> int:
        return glue.SR_16K * self.config.x_pad

    @property
    def t_pad_tgt(self) -> int:
        return self.model_rate * self.config.x_pad

    # -- public --------------------------------------------------------------------------
    def convert_array(
        self,
        x: np.ndarray,
        sr: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[np.ndarray, int]:
        """Convert mono ``x [N]`` at ``sr`` -> ``(y [M] float32, rate)``; rate = model or ``output_rate``.

        ``y`` is the reference's int16 output divided by 32768 (so writing it as 16-bit PCM gives
        the reference's samples exactly).
        """
        mixed = self.convert_float(x, sr, progress, cancel)
        rate = self.config.output_rate or self.model_rate
        if rate != self.model_rate:
            mixed = _resample(mixed, self.model_rate, rate)
        q = glue.to_int16(mixed)
        del mixed
        y = q.astype(np.float32)
        del q
        y /= np.float32(32768)  # in place: one output-length float array at a time
        return y, rate

    def convert_float(
        self,
        x: np.ndarray,
        sr: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """Everything up to the RMS mix: ``x [N]`` at ``sr`` -> float32 at the model rate."""
        progress = progress or self.progress
        cancel = cancel or self.cancel
        audio = np.asarray(x, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"expected mono audio [N], got shape {audio.shape}")
        if sr != glue.SR_16K:
            audio = _resample(audio, sr, glue.SR_16K)
        if audio.size == 0:
            raise ValueError("the input has no samples")
        audio = glue.peak_normalize(audio)
        hp = glue.highpass(audio) if audio.size > 18 else audio.astype(np.float64)
        del audio
        cfg = self.config
        sr16 = glue.SR_16K
        center, query = cfg.split_spacing()
        cuts = glue.split_points(hp, sr16 * center, sr16 * query, sr16 * cfg.x_max)
        # every later use (f0, HuBERT, the RMS envelope) takes float32 values: keep half the bytes
        hp = hp.astype(np.float32)
        bounds = self._segments(hp, cuts)
        out = self._convert_segments(hp, bounds, progress, cancel)
        if cfg.rms_mix_rate != 1:
            out, _, _ = glue.rms_mix(hp, out, self.model_rate, cfg.rms_mix_rate)
        return out

    def _convert_segments(
        self,
        hp: np.ndarray,
        bounds: list[tuple[int, int, int]],
        progress: ProgressFn | None,
        cancel: threading.Event | None,
    ) -> np.ndarray:
        """All segments' trimmed outputs joined (float32), in three passes (pitch, content, synthesis).

        Each pass runs one model over all segments; components with a ``release()`` method (the
        lazily loaded models of :func:`models.rvc.inference.open_pipeline`) are released when
        another pass runs, so a long conversion holds one model at a time. Only small
        per-segment results (f0, content features) are kept between passes.
        """
        n = len(bounds)
        passes = (2 if self.f0 is None else 3) * n
        done = 0

        def step() -> None:
            nonlocal done
            release_memory()  # hand the last segment's activations back to the OS
            if cancel is not None and cancel.is_set():
                raise ConversionCancelledError("conversion cancelled")
            if done and progress is not None:
                progress(done / passes)
            done += 1

        def segment(i: int) -> np.ndarray:
            if n == 1:
                return glue.reflect_pad(hp, self.t_pad)
            start, stop, _ = bounds[i]
            return _padded_slice(hp, start - self.t_pad, stop - self.t_pad, self.t_pad)

        pitches: list[tuple[torch.Tensor | None, torch.Tensor | None]] = [(None, None)] * n
        if self.f0 is not None:
            _release(self.synthesizer, self.content)
            for i in range(n):
                step()
                pitches[i] = self._pitch(segment(i), bounds[i][2])
        _release(self.f0, self.synthesizer)
        with _Spill(n > 1) as feats, _Spill(n > 1) as pieces:
            for i in range(n):
                step()
                feats.put(i, self.features(segment(i)).cpu().numpy())
            _release(self.content)
            for i in range(n):
                step()
                seg = segment(i)
                trace = SegmentTrace(seg) if self.trace is not None else None
                pitch, pitchf = pitches[i]
                audio = self._vc(torch.from_numpy(feats.take(i)), len(seg), pitch, pitchf, trace)
                if self.trace is not None and trace is not None:
                    trace.f0 = None if pitchf is None else pitchf[0].numpy()
                    self.trace.append(trace)
                pieces.put(i, audio[self.t_pad_tgt : len(audio) - self.t_pad_tgt])
                del audio
            _release(self.synthesizer)
            sizes = [pieces.size(i) for i in range(n)]
            out = np.empty(sum(sizes), dtype=np.float32)  # filled piece by piece: no second copy
            at = 0
            for i, size in enumerate(sizes):
                out[at : at + size] = pieces.take(i)
                at += size
        if progress is not None:
            progress(1.0)
        return out

    # -- steps ---------------------------------------------------------------------------
    def _segments(self, hp: np.ndarray, cuts: list[int]) -> list[tuple[int, int, int]]:
        """``(start, stop, pitch_frames)`` in padded-signal coordinates, as the reference slices it."""
        padded_len = len(hp) + 2 * self.t_pad
        p_len_total = padded_len // glue.WINDOW
        out = []
        s = 0
        for cut in cuts:
            t = cut // glue.WINDOW * glue.WINDOW
            stop = t + 2 * self.t_pad + glue.WINDOW
            out.append((s, stop, (t + 2 * self.t_pad) // glue.WINDOW - s // glue.WINDOW))
            s = t
        out.append((s, padded_len, p_len_total - s // glue.WINDOW))
        return out

    def _pitch(self, seg: np.ndarray, n_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """f0 of a padded segment after the key shift -> ``(coarse [1, T] int64, Hz [1, T] float32)``."""
        assert self.f0 is not None
        f0 = glue.shift_f0(self.f0(seg.astype(np.float32)), self.config.pitch)[:n_frames]
        pitch = torch.from_numpy(glue.coarse_pitch(f0)).long().unsqueeze(0)
        return pitch, torch.from_numpy(f0.astype(np.float32)).unsqueeze(0)

    def features(self, seg: np.ndarray) -> torch.Tensor:
        """Padded segment ``[N]`` -> content features ``[1, T, C]`` (layer 9 + proj for v1, 12 for v2)."""
        wav = torch.from_numpy(np.ascontiguousarray(seg, dtype=np.float32)).unsqueeze(0)
        with torch.inference_mode():
            return self.content.extract(wav, self.version.content_layer, self.version.final_proj)

    def retrieve(self, feats: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Blend the index's neighbours into ``feats [1, T, C]`` by ``index_rate``."""
        if self.index is None or self.config.index_rate == 0:
            return feats, None
        query = feats[0].float().numpy()
        result = self.index.retrieve(query)
        blended = blend(query, result.retrieved, self.config.index_rate)
        return torch.from_numpy(blended).unsqueeze(0), result

    def net_inputs(
        self,
        feats: torch.Tensor,
        feats0: torch.Tensor,
        n_samples: int,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
    ) -> tuple[torch.Tensor, int, torch.Tensor | None, torch.Tensor | None]:
        """×2 upsampling, length reconciliation and protect -> ``(feats, p_len, pitch, pitchf)``."""
        feats = glue.upsample2(feats)
        p_len = n_samples // glue.WINDOW
        if feats.shape[1] < p_len:
            p_len = feats.shape[1]
            if pitch is not None and pitchf is not None:
                pitch, pitchf = pitch[:, :p_len], pitchf[:, :p_len]
        feats = feats[:, :p_len]
        protect = self.config.protect
        if protect < 0.5 and pitchf is not None:
            feats = glue.protect_blend(feats, glue.upsample2(feats0)[:, :p_len], pitchf, protect)
        return feats, p_len, pitch, pitchf

    def vc(
        self,
        seg: np.ndarray,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        trace: SegmentTrace | None = None,
    ) -> np.ndarray:
        """The reference ``Pipeline.vc`` on one padded segment -> float32 audio at the model rate."""
        return self._vc(self.features(seg), len(seg), pitch, pitchf, trace)

    def _vc(
        self,
        feats0: torch.Tensor,
        n_samples: int,
        pitch: torch.Tensor | None,
        pitchf: torch.Tensor | None,
        trace: SegmentTrace | None = None,
    ) -> np.ndarray:
        """:meth:`vc` from the segment's content features."""
        feats, result = self.retrieve(feats0)
        net_feats, p_len, pitch, pitchf = self.net_inputs(feats, feats0, n_samples, pitch, pitchf)
        audio = self.synthesize(net_feats, p_len, pitch, pitchf)
        if trace is not None:
            trace.pitch, trace.pitchf, trace.feats = pitch, pitchf, feats0
            trace.retrieval, trace.net_feats, trace.synth = result, net_feats, audio
        return audio

    def synthesize(
        self, feats: torch.Tensor, p_len: int, pitch: torch.Tensor | None, pitchf: torch.Tensor | None
    ) -> np.ndarray:
        """``feats [1, P, C]`` (+ pitch) -> ``[P · hop]`` float32 audio."""
        lengths = torch.tensor([p_len], dtype=torch.long)
        sid = torch.tensor([self.config.sid], dtype=torch.long)
        with torch.inference_mode():
            out = self.synthesizer.infer(feats, lengths, pitch, pitchf, sid)
        return out[0][0, 0].float().numpy()


class _Spill:
    """Per-segment arrays kept between passes, in a temporary folder when ``to_disk`` (a long
    file's features and outputs would otherwise add ~0.2 GB per 10 minutes to the peak), in
    memory when not or when the disk refuses (full, read-only)."""

    def __init__(self, to_disk: bool) -> None:
        self.to_disk = to_disk
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.memory: dict[int, np.ndarray] = {}

    def __enter__(self) -> _Spill:
        if self.to_disk:
            try:
                self.tmp = tempfile.TemporaryDirectory(prefix="voxshift-")
            except OSError:
                self.tmp = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.memory.clear()
        if self.tmp is not None:
            self.tmp.cleanup()

    def _path(self, i: int) -> Path:
        assert self.tmp is not None
        return Path(self.tmp.name) / f"{i}.npy"

    def put(self, i: int, a: np.ndarray) -> None:
        if self.tmp is not None:
            try:
                np.save(self._path(i), a)
                return
            except OSError:
                self._path(i).unlink(missing_ok=True)
        self.memory[i] = np.array(a)

    def size(self, i: int) -> int:
        """Number of elements of entry ``i`` (reads only the header of a spilled array)."""
        if i in self.memory:
            return int(self.memory[i].size)
        return int(np.load(self._path(i), mmap_mode="r").size)

    def take(self, i: int) -> np.ndarray:
        if i in self.memory:
            return self.memory.pop(i)
        path = self._path(i)
        a = np.load(path)
        path.unlink()
        return a


def _release(*components: object) -> None:
    """Free the components' models now if they can reload themselves later (``open_pipeline``)."""
    for component in components:
        release = getattr(type(component), "release", None)
        if callable(release):
            release(component)


def _padded_slice(hp: np.ndarray, start: int, stop: int, pad: int) -> np.ndarray:
    """``reflect_pad(hp, pad)[start + pad : stop + pad]`` without building the padded signal.

    ``start``/``stop`` are in unpadded coordinates (may run ``pad`` samples beyond each end).
    """
    n = len(hp)
    if start >= 0 and stop <= n:
        return hp[start:stop].copy()
    lo, hi = max(start, 0), min(stop, n)
    left = hp[1 : 1 - start][::-1] if start < 0 else hp[:0]
    right = hp[n - 1 - (stop - n) : n - 1][::-1] if stop > n else hp[:0]
    return np.concatenate([left, hp[lo:hi], right])


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited rational resampling (polyphase, Kaiser window) of a whole signal."""
    from math import gcd

    from scipy.signal import resample_poly

    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    g = gcd(sr_in, sr_out)
    return resample_poly(np.asarray(x, dtype=np.float64), sr_out // g, sr_in // g).astype(np.float32)
