"""Realtime RVC: the reference ``gui_v1.py`` + ``rtrvc.RVC.infer`` block path as a streaming Voice.

Per block of ``block`` samples at the model rate:

1. the model-rate ring (``extra + crossfade + search + block``) shifts left and takes the block;
2. the last ``block + 2·zc`` samples are resampled to 16 kHz (torchaudio sinc-Hann, width 6,
   rolloff 0.99); the first 10 ms of the result are dropped and the rest overwrites the end of the
   16 kHz ring, recomputing the previous block's last 10 ms with right-hand context;
3. HuBERT/ContentVec over the whole 16 kHz ring (a copy of the last frame appended);
4. retrieval on the new frames only (from ``skip_head // 2``), skipped if any neighbour is missing;
5. f0 over the newest samples only; the rolling caches (1024 frames, zero-initialised) shift by
   one block and take the new frames;
6. the synthesizer renders only the tail (``skip_head``/``return_length``): SOLA crossfade +
   search + block, starting ``extra`` samples into the ring;
7. SOLA (``dsp.sola.Sola``) picks the offset and crossfades into exactly ``block`` samples.

Nothing is cached between blocks for the content features: the reference recomputes them, and
HuBERT's first GroupNorm normalises over the whole window, so a cache would not be exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torchaudio

from dsp.sola import Sola
from models.base import Voice, VoiceInfo, VoiceParams
from models.kinds import RvcVersion, VoiceKind
from models.retrieval import FeatureIndex, blend
from models.rvc import glue
from models.rvc.pipeline import ContentEncoder, F0Estimator, Synthesizer

CACHE_FRAMES = 1024


@dataclass(frozen=True)
class RealtimeConfig:
    """Block geometry and gate of the realtime voice (the reference GUI's settings)."""

    block_time: float = 0.25
    """Seconds of new audio per block (the hop)."""
    crossfade_time: float = 0.05
    extra_time: float = 0.5
    """Seconds of left context given to HuBERT (more is better quality and slower)."""
    gate_db: float = -60.0
    """Input frames (10 ms) quieter than this are zeroed; -60 or lower disables the gate."""
    sid: int = 0
    """Speaker id of multi-speaker voices."""

    def __post_init__(self) -> None:
        if not 0.01 <= self.block_time <= 2.0:
            raise ValueError(f"block_time must be within 0.01..2 s, got {self.block_time}")
        if not 0.01 <= self.crossfade_time <= self.block_time:
            raise ValueError("crossfade_time must be within 0.01 s..block_time")
        if not 0.0 <= self.extra_time <= 10.0:
            raise ValueError(f"extra_time must be within 0..10 s, got {self.extra_time}")


@dataclass(frozen=True)
class BlockGeometry:
    """All sizes of the block path, in samples at the model rate unless named ``*16k``."""

    sample_rate: int
    zc: int
    block: int
    crossfade_frame: int
    sola_buffer: int
    """The crossfade SOLA applies (at most 4 frames of 10 ms)."""
    sola_search: int
    extra: int

    @classmethod
    def of(cls, sample_rate: int, cfg: RealtimeConfig) -> BlockGeometry:
        zc = sample_rate // 100
        crossfade = round(cfg.crossfade_time * 100) * zc
        block = round(cfg.block_time * 100) * zc
        return cls(
            sample_rate=sample_rate,
            zc=zc,
            block=block,
            crossfade_frame=crossfade,
            sola_buffer=min(crossfade, 4 * zc, block),
            sola_search=zc,
            extra=round(cfg.extra_time * 100) * zc,
        )

    @property
    def ring(self) -> int:
        return self.extra + self.crossfade_frame + self.sola_search + self.block

    @property
    def ring16k(self) -> int:
        return glue.WINDOW * self.ring // self.zc

    @property
    def block16k(self) -> int:
        return glue.WINDOW * self.block // self.zc

    @property
    def skip_head(self) -> int:
        return self.extra // self.zc

    @property
    def return_length(self) -> int:
        return (self.block + self.sola_buffer + self.sola_search) // self.zc

    @property
    def p_len(self) -> int:
        return self.ring16k // glue.WINDOW

    @property
    def output_length(self) -> int:
        return self.return_length * self.zc

    def f0_samples(self, method: str) -> int:
        """16 kHz samples given to the pitch tracker: the block plus 50 ms (RMVPE: a 5120 grid)."""
        n = self.block16k + 800
        if method == "rmvpe":
            n = 5120 * ((n - 1) // 5120 + 1) - glue.WINDOW
        return min(n, self.ring16k)

    @property
    def latency(self) -> int:
        """Delay of the output behind the input beyond one block, with SOLA at offset 0.

        The output starts ``extra`` samples into the ring; the newest block starts
        ``crossfade_frame + sola_search`` samples later.
        """
        return self.crossfade_frame + self.sola_search


@dataclass
class BlockState:
    """Rolling buffers of one stream."""

    ring: np.ndarray
    """[ring] float32 model-rate input."""
    ring16k: torch.Tensor
    """[ring16k] float32 16 kHz input given to HuBERT."""
    cache_pitch: torch.Tensor
    """[1024] int64 coarse pitch of past frames."""
    cache_pitchf: torch.Tensor
    """[1024] float32 f0 (Hz) of past frames."""
    gate_tail: np.ndarray
    sola: Any = None


@dataclass
class BlockTrace:
    """Intermediates of the last block (for tests and the benchmark)."""

    resampled: torch.Tensor | None = None
    f0_in: torch.Tensor | None = None
    retrieval: Any = None
    feats: torch.Tensor | None = None
    pitch: torch.Tensor | None = None
    pitchf: torch.Tensor | None = None
    output: np.ndarray | None = None
    times: dict[str, float] | None = None


class RealtimeCore:
    """The model work of one block, without SOLA (reference ``RVC.infer`` and its buffers)."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        model_rate: int,
        version: RvcVersion,
        content: ContentEncoder,
        f0_factory: Callable[[str], F0Estimator] | None,
        index: FeatureIndex | None = None,
        config: RealtimeConfig | None = None,
    ) -> None:
        self.synthesizer = synthesizer
        self.version = version
        self.content = content
        self.f0_factory = f0_factory
        self.index = index
        self.config = config or RealtimeConfig()
        self.geometry = BlockGeometry.of(model_rate, self.config)
        self.resampler = torchaudio.transforms.Resample(model_rate, glue.SR_16K, dtype=torch.float32)
        self._f0: dict[str, F0Estimator] = {}
        self.trace = BlockTrace()
        self.clock: Callable[[], float] | None = None

    def new_state(self) -> BlockState:
        g = self.geometry
        return BlockState(
            ring=np.zeros(g.ring, np.float32),
            ring16k=torch.zeros(g.ring16k, dtype=torch.float32),
            cache_pitch=torch.zeros(CACHE_FRAMES, dtype=torch.long),
            cache_pitchf=torch.zeros(CACHE_FRAMES, dtype=torch.float32),
            gate_tail=np.zeros(4 * g.zc, np.float32),
        )

    # -- stages ----------------------------------------------------------------------------
    def push(self, block: np.ndarray, state: BlockState, resampled: torch.Tensor | None = None) -> None:
        """Shift both rings by one block, append ``block [block]``, refresh the 16 kHz tail.

        ``resampled`` (``[block16k + 320]``) replaces our own resampling of the tail (tests).
        """
        g = self.geometry
        state.ring[: -g.block] = state.ring[g.block :]
        state.ring[-g.block :] = block
        state.ring16k[: -g.block16k] = state.ring16k[g.block16k :].clone()
        if resampled is None:
            tail = torch.from_numpy(state.ring[-g.block - 2 * g.zc :].copy())
            resampled = self.resampler(tail)
        self.trace.resampled = resampled
        state.ring16k[-(g.block16k + glue.WINDOW) :] = resampled[glue.WINDOW :]

    def features(self, wav16k: torch.Tensor) -> torch.Tensor:
        """``[N]`` -> ``[1, T + 1, C]``: content features with the last frame repeated."""
        feats = self.content.extract(wav16k.view(1, -1), self.version.content_layer, self.version.final_proj)
        feats = feats.float()
        return torch.cat((feats, feats[:, -1:, :]), 1)

    def retrieve(self, feats: torch.Tensor, index_rate: float) -> torch.Tensor:
        """Blend retrieved neighbours into frames ``skip_head // 2 ..`` (all ids valid only)."""
        self.trace.retrieval = None
        if self.index is None or index_rate == 0:
            return feats
        head = self.geometry.skip_head // 2
        query = feats[0, head:].numpy()
        result = self.index.retrieve(query)
        self.trace.retrieval = result
        if result.all_valid:
            feats = feats.clone()
            feats[0, head:] = torch.from_numpy(blend(query, result.retrieved, index_rate))
        return feats

    def f0_frames(self, wav16k: torch.Tensor, method: str, semitones: float) -> torch.Tensor:
        """Shifted f0 (Hz, float32) of the newest samples only."""
        if self.f0_factory is None:
            raise RuntimeError("this voice has no pitch input")
        if method not in self._f0:
            self._f0[method] = self.f0_factory(method)
        x = wav16k[-self.geometry.f0_samples(method) :]
        self.trace.f0_in = x
        f0 = glue.shift_f0(self._f0[method](x.numpy().copy()), semitones)
        return torch.from_numpy(f0.astype(np.float32))

    def update_pitch_cache(
        self, pitchf_new: torch.Tensor, state: BlockState
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Roll the caches one block, write frames ``3 .. n−2`` last -> ``(pitch, pitchf) [1, p_len]``."""
        g = self.geometry
        coarse = glue.coarse_pitch_torch(pitchf_new)
        shift = g.block16k // glue.WINDOW
        n = pitchf_new.shape[0]
        state.cache_pitch[:-shift] = state.cache_pitch[shift:].clone()
        state.cache_pitchf[:-shift] = state.cache_pitchf[shift:].clone()
        state.cache_pitch[4 - n :] = coarse[3:-1]
        state.cache_pitchf[4 - n :] = pitchf_new[3:-1]
        # the reference scales by return_length2 / return_length (1 without formant shift), as
        # two float32 operations whose rounding shows in the f0 fed to the NSF source
        pitchf = state.cache_pitchf[None, -g.p_len :] * g.return_length / g.return_length
        return state.cache_pitch[None, -g.p_len :].clone(), pitchf

    def synthesize(
        self, feats: torch.Tensor, pitch: torch.Tensor | None, pitchf: torch.Tensor | None
    ) -> np.ndarray:
        """``feats [1, T+1, C]`` -> ``[return_length · zc]`` float32: ×2, cut, tail-only synthesis."""
        g = self.geometry
        phone = glue.upsample2(feats)[:, : g.p_len]
        self.trace.feats, self.trace.pitch, self.trace.pitchf = phone, pitch, pitchf
        lengths = torch.tensor([g.p_len], dtype=torch.long)
        sid = torch.tensor([self.config.sid], dtype=torch.long)
        out = self.synthesizer.infer(
            phone, lengths, pitch, pitchf, sid, skip_head=g.skip_head, return_length=g.return_length
        )
        return out[0].reshape(-1).float().numpy()

    # -- one block ---------------------------------------------------------------------------
    def process(self, block: np.ndarray, state: BlockState, params: VoiceParams) -> np.ndarray:
        """``block [block]`` float32 -> model output ``[output_length]`` before SOLA."""
        times: dict[str, float] = {}
        clock = self.clock
        t = clock() if clock else 0.0

        def lap(name: str) -> None:
            nonlocal t
            if clock:
                now = clock()
                times[name] = now - t
                t = now

        with torch.inference_mode():
            self.push(block, state)
            lap("resample")
            feats = self.features(state.ring16k)
            lap("content")
            feats = self.retrieve(feats, params.index_rate)
            lap("retrieval")
            pitch = pitchf = None
            if self.f0_factory is not None:
                shifted = self.f0_frames(state.ring16k, params.f0_method, params.pitch)
                pitch, pitchf = self.update_pitch_cache(shifted, state)
            lap("pitch")
            out = self.synthesize(feats, pitch, pitchf)
            lap("synthesis")
        self.trace.output, self.trace.times = out, times
        return out


def gate(block: np.ndarray, state: BlockState, zc: int, threshold_db: float) -> np.ndarray:
    """Zero 10 ms frames whose RMS over the 40 ms ending with them is below ``threshold_db`` dBFS.

    The window is causal (no look-ahead, so no added latency); quiet tails keep 30 ms of hangover.
    """
    if threshold_db <= -60:
        return block
    joined = np.concatenate([state.gate_tail, block])
    state.gate_tail = joined[-4 * zc :].copy()
    n = len(block) // zc
    frames = np.lib.stride_tricks.sliding_window_view(joined, 4 * zc)[zc::zc][:n]
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float32), axis=1))
    quiet = 20 * np.log10(np.maximum(rms, 1e-10)) < threshold_db
    out = block.copy()
    for i in np.flatnonzero(quiet):
        out[i * zc : (i + 1) * zc] = 0
    return out


class RvcRealtimeVoice(Voice):
    """A streaming RVC voice at the model rate: ``step`` takes and returns one block."""

    kind: ClassVar[VoiceKind] = VoiceKind.RVC

    def __init__(self, core: RealtimeCore, name: str = "rvc", details: dict[str, str] | None = None) -> None:
        super().__init__()
        self.core = core
        self.name = name
        g = core.geometry
        self.sample_rate = g.sample_rate
        self.hop = g.block
        self.latency = g.latency
        self._details = details or {}

    def init_state(self) -> BlockState:
        g = self.core.geometry
        state = self.core.new_state()
        state.sola = Sola(g.block, g.sola_buffer, g.sola_search)
        return state

    def step(self, x: np.ndarray, state: BlockState) -> tuple[np.ndarray, BlockState]:
        params = self.params
        g = self.core.geometry
        block = gate(np.asarray(x, dtype=np.float32), state, g.zc, self.core.config.gate_db)
        out = self.core.process(block, state, params)
        y = state.sola.process(out)  # a buffer SOLA reuses: hand out a copy
        return np.array(y, dtype=np.float32), state

    def set_params(self, params: VoiceParams) -> None:
        self._params = params

    def info(self) -> VoiceInfo:
        g = self.core.geometry
        details = {
            "rate": f"{g.sample_rate / 1000:g} kHz",
            "block": f"{1000 * g.block / g.sample_rate:g} ms",
            **self._details,
        }
        return VoiceInfo(self.name, self.kind, "RVC voice (realtime)", details)

    def warmup(self, steps: int = 2) -> None:
        """Run blocks of silence on a throwaway state (first-call allocations, lazy f0 models)."""
        state = self.core.new_state()
        silence = np.zeros(self.hop, dtype=np.float32)
        for _ in range(steps):
            self.core.process(silence, state, self.params)
