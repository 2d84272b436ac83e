"""The wizard's last step without Qt: copy the new voice into the library, make an A/B sample."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from app.voice_library import card_details, write_voice_folder
from models.errors import VoxshiftError
from models.kinds import VoiceKind

SAMPLE_SECONDS = 4.0
"""Length of the A/B sample cut from the first usable recording."""


class InstallError(VoxshiftError):
    """The trained voice could not be copied into the voice library."""


@dataclass(frozen=True)
class InstalledVoice:
    """Where the library copy lives: its folder, the voice file and the index (if any)."""

    folder: Path
    voice: Path
    index: Path | None


def install_voice(library_dir: Path, voice: Path, index: Path | None = None) -> InstalledVoice:
    """Copy ``voice`` (+ ``index``) into ``<library_dir>/<slug>/`` with a ``voice.json`` card.

    The folder is staged under a temporary name and renamed in one step, so the library never sees
    a half-copied voice; an existing voice of the same name is kept and the new one gets ``-2``.
    """
    if not voice.is_file():
        raise InstallError(f"the trained voice {voice} does not exist")
    card: dict[str, object] = {"name": voice.stem, "kind": VoiceKind.RVC.value, "details": _details(voice)}
    extras = {"index": index} if index is not None and index.is_file() else {}
    try:
        target = write_voice_folder(library_dir, voice, card, extras)
    except OSError as err:
        raise InstallError(f"could not copy {voice.name} into {library_dir}: {err}") from err
    return InstalledVoice(target, target / voice.name, target / extras["index"].name if extras else None)


def _details(voice: Path) -> dict[str, str]:
    """The voice file's facts (rate, version, f0) as the safe detector reads them, best effort."""
    from models.checkpoint import detect

    try:
        found = detect(voice)
    except VoxshiftError:
        return {}
    return card_details(found)


def cut_sample(source: Path, dst: Path, seconds: float = SAMPLE_SECONDS) -> Path:
    """The first ``seconds`` of ``source`` as mono float wav at ``dst`` (the "A" of the A/B)."""
    info = sf.info(str(source))
    frames = min(info.frames, int(seconds * info.samplerate))
    audio, rate = sf.read(str(source), frames=frames, dtype="float32", always_2d=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.partial")
    sf.write(str(tmp), np.ascontiguousarray(audio.mean(axis=1)), rate, format="WAV", subtype="FLOAT")
    tmp.replace(dst)
    return dst


@dataclass(frozen=True)
class SampleRequest:
    """Everything needed to convert the A/B sample with the new voice."""

    voice: Path
    index: Path | None
    content_encoder: Path
    pitch_model: Path | None
    f0_method: str
    source: Path
    out_dir: Path


def convert_sample(req: SampleRequest, cancel: threading.Event | None = None) -> tuple[Path, Path]:
    """Cut the sample and convert it with the RVC pipeline; returns (original, converted)."""
    from models.offline import convert_file
    from models.rvc.inference import open_pipeline

    original = cut_sample(req.source, req.out_dir / "sample_original.wav")
    pitch_model = req.pitch_model if req.f0_method == "rmvpe" else None
    pipeline = open_pipeline(req.voice, req.content_encoder, pitch_model, req.index, req.f0_method)
    converted = req.out_dir / f"sample_{req.voice.stem}.wav"
    convert_file(original, converted, pipeline, overwrite=True, cancel=cancel)
    return original, converted


LibraryDir = Path | Callable[[], Path]


def resolve_library(library: LibraryDir) -> Path:
    """A library folder given as a path or as a callable returning the current one."""
    return Path(library()) if callable(library) else Path(library)
