"""RVC voices: the community synthesizer (v1/v2, f0/no-f0, 32k/40k/48k) and its safe loader.

Public API: :func:`load_voice` -> :class:`RvcModel` (``.synthesizer.infer(...)``).
"""

from models.rvc.config import RvcConfig, from_community, variant
from models.rvc.loader import RvcModel, load_voice
from models.rvc.net import DEFAULT_NOISE, ZERO_NOISE, NoiseConfig, SynthesizerTrn

__all__ = [
    "DEFAULT_NOISE",
    "ZERO_NOISE",
    "NoiseConfig",
    "RvcConfig",
    "RvcModel",
    "SynthesizerTrn",
    "from_community",
    "load_voice",
    "variant",
]
