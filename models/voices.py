"""Resolve a voice by name for the CLI and the GUI.

Today this knows the built-in voices; user voice files (RVC ``.pth``, LLVC) join here later, so
callers should go through :func:`resolve_voice` and :func:`available_voices` rather than
``models.builtin`` directly.
"""

from __future__ import annotations

from models import builtin
from models.base import Voice, VoiceInfo, VoiceParams


def available_voices() -> list[VoiceInfo]:
    """Every voice a user can pick by name, built-ins first."""
    return builtin.list_voices()


def resolve_voice(
    spec: str, sample_rate: int = 48000, hop: int = 256, params: VoiceParams | None = None
) -> Voice:
    """The voice named ``spec`` (case-insensitive), built at ``sample_rate`` with steps of ``hop``.

    ``params`` (optional) are applied with ``set_params``. Raises
    :class:`models.errors.VoiceNotFoundError` listing the known names.
    """
    voice = builtin.create_voice(spec, sample_rate=sample_rate, hop=hop)
    if params is not None:
        voice.set_params(params)
    return voice
