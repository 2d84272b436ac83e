"""Moved to ``dsp.sola`` (kept until the engine imports it from there)."""

from dsp.sola import Sola, crossfade, equal_gain_fade, equal_power_fade

__all__ = ["Sola", "crossfade", "equal_gain_fade", "equal_power_fade"]
