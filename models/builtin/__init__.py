"""Built-in DSP voices that work with no model files.

``list_voices()`` describes them; ``create_voice(name, sample_rate, hop)`` builds one. Besides
the presets there is ``shift`` (exactly the user's pitch/formant) and ``passthrough``.
"""

from __future__ import annotations

from models.base import PassthroughVoice, Voice, VoiceInfo
from models.builtin.presets import PRESETS, Preset
from models.builtin.psola import PsolaShifter, ShifterConfig
from models.builtin.voice import BuiltinVoice
from models.errors import VoiceNotFoundError
from models.kinds import VoiceKind

__all__ = [
    "PRESETS",
    "BuiltinVoice",
    "Preset",
    "PsolaShifter",
    "ShifterConfig",
    "create_voice",
    "list_voices",
    "voice_names",
]

_PASSTHROUGH_INFO = VoiceInfo(
    "passthrough", VoiceKind.PASSTHROUGH, "Your own voice, unchanged (latency reference)."
)


def voice_names() -> list[str]:
    """Names ``create_voice`` accepts, in display order."""
    return ["passthrough", *(p.name for p in PRESETS)]


def list_voices() -> list[VoiceInfo]:
    """Every built-in voice with its description (no audio objects are built)."""
    infos = [_PASSTHROUGH_INFO]
    for preset in PRESETS:
        details = {}
        if preset.pitch or preset.formant:
            details = {"pitch": f"{preset.pitch:+g} st", "formant": f"{preset.formant:+g} st"}
        infos.append(VoiceInfo(preset.name, VoiceKind.BUILTIN, preset.description, details))
    return infos


def create_voice(name: str, sample_rate: int = 48000, hop: int = 256) -> Voice:
    """Build the built-in voice ``name`` (case-insensitive) at ``sample_rate`` with steps of ``hop``.

    Raises :class:`VoiceNotFoundError` naming the known voices.
    """
    key = name.strip().lower()
    if key == "passthrough":
        return PassthroughVoice(sample_rate, hop)
    for preset in PRESETS:
        if preset.name == key:
            return BuiltinVoice(preset, sample_rate, hop)
    known = ", ".join(voice_names())
    raise VoiceNotFoundError(f"No built-in voice named {name!r}; known voices: {known}.")
