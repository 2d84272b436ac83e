"""Moved to ``dsp.resample`` (kept until the engine imports it from there)."""

from dsp.resample import StreamResampler

__all__ = ["StreamResampler"]
