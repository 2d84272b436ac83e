"""The named built-in voices: a preset is a fixed pitch/formant setting plus an optional effect.

The user's live pitch and formant offsets (``VoiceParams.pitch``/``formant``) add to a preset's
own settings, so "deeper" with pitch +2 is two semitones less deep.
"""

from __future__ import annotations

from dataclasses import dataclass

EFFECTS = ("none", "radio")


@dataclass(frozen=True)
class Preset:
    """One built-in voice."""

    name: str
    description: str
    pitch: float = 0.0
    """Semitones added to the user's pitch offset."""
    formant: float = 0.0
    """Semitones added to the user's formant offset."""
    monotone_hz: float = 0.0
    """If > 0, voiced speech is re-pitched to this constant f0 (times the user's pitch offset)."""
    effect: str = "none"
    """Post effect applied after the shift, one of EFFECTS."""

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise ValueError(f"effect must be one of {EFFECTS}, got {self.effect!r}")
        if self.monotone_hz < 0:
            raise ValueError("monotone_hz must be >= 0")


PRESETS: tuple[Preset, ...] = (
    Preset(
        "shift",
        "Applies exactly the pitch and formant you set, nothing else (transparent at 0/0).",
    ),
    Preset("deeper", "A lower, fuller voice: pitch -4 semitones, formants -2.", pitch=-4.0, formant=-2.0),
    Preset("higher", "A lighter, higher voice: pitch +4 semitones, formants +2.", pitch=4.0, formant=2.0),
    Preset("giant", "A huge, booming voice: pitch -9 semitones, formants -4.", pitch=-9.0, formant=-4.0),
    Preset("chipmunk", "A tiny cartoon voice: pitch +9 semitones, formants +5.", pitch=9.0, formant=5.0),
    Preset(
        "robot",
        "A monotone machine voice: every voiced sound at a steady 110 Hz (pitch moves it).",
        monotone_hz=110.0,
    ),
    Preset(
        "radio",
        "An old radio / phone line: band-limited 300-3400 Hz with light saturation.",
        effect="radio",
    ),
)
