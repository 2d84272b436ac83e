"""Build a streaming ``Voice`` for a library entry, through the models' public loaders only."""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import VoiceSettings
from app.voice_library import VoiceEntry
from models.base import Voice, VoiceParams
from models.errors import VoxshiftError
from models.kinds import ModelKind, VoiceKind

VOICE_RATE = 48000
"""Rate of built-in voices (the engine resamples the device rate to it)."""


@dataclass(frozen=True)
class VoiceBuild:
    """Everything a voice is built from, besides the entry (hashable: equal builds share a voice)."""

    block_ms: float = 10.0
    crossfade_ms: float = 5.0
    extra_ms: float = 100.0
    compute_device: str = "cpu"


def to_voice_params(s: VoiceSettings) -> VoiceParams:
    return VoiceParams(
        pitch=s.pitch, formant=s.formant, index_rate=s.index_rate, protect=s.protect, f0_method=s.f0_method
    )


def hop_samples(block_ms: float, rate: int) -> int:
    return max(16, round(block_ms * rate / 1000))


def make_voice(entry: VoiceEntry, build: VoiceBuild, params: VoiceSettings) -> Voice:
    """A ready voice with ``params`` applied. Raises VoxshiftError with a user-actionable message."""
    if entry.missing:
        names = ", ".join(m.filename for m in entry.missing)
        raise VoxshiftError(f"{entry.name} needs {names}; see the voice card for where to get it")
    if entry.builtin:
        voice = _builtin(entry, build)
    elif entry.kind is VoiceKind.LLVC:
        voice = _llvc(entry, build)
    elif entry.kind is VoiceKind.RVC:
        voice = _rvc(entry, build)
    else:
        raise VoxshiftError(f"{entry.name}: voices of kind {entry.kind.value!r} are not supported")
    voice.set_params(to_voice_params(params))
    return voice


def _builtin(entry: VoiceEntry, build: VoiceBuild) -> Voice:
    from models.builtin import create_voice

    voice: Voice = create_voice(
        entry.name, sample_rate=VOICE_RATE, hop=hop_samples(build.block_ms, VOICE_RATE)
    )
    return voice


def _llvc(entry: VoiceEntry, build: VoiceBuild) -> Voice:
    from models.llvc import load_voice

    if entry.model_file is None:
        raise VoxshiftError(f"{entry.name}: the voice card names no model file")
    return load_voice(entry.model_file, config=entry.config_file)


def _rvc(entry: VoiceEntry, build: VoiceBuild) -> Voice:
    """A realtime RVC voice; its block is at least 50 ms (the engine hop stays ``block_ms``)."""
    from app.voice_library import VoiceLibrary
    from models.rvc.inference import open_realtime_voice
    from models.rvc.realtime import RealtimeConfig

    library = VoiceLibrary()
    block = min(2.0, max(0.05, build.block_ms / 1000))
    config = RealtimeConfig(
        block_time=block,
        crossfade_time=min(block, max(0.01, build.crossfade_ms / 1000)),
        extra_time=min(10.0, max(0.0, build.extra_ms / 1000)),
    )
    rmvpe = library.shared_path(ModelKind.RMVPE)
    voice: Voice = open_realtime_voice(
        entry.model_file or "",
        library.shared_path(ModelKind.HUBERT),
        rmvpe_path=rmvpe if rmvpe.exists() else None,
        index_path=entry.index_file,
        config=config,
        device=build.compute_device,
    )
    return voice
