"""Resolve a voice by name or by file for the CLI and the GUI.

A spec is either a built-in voice name (``deeper``, ``shift``, ...) or the path of a user's voice
file: a community RVC ``.pth`` (its ``.index`` beside it is picked up when there is exactly one,
or passed explicitly) or an LLVC checkpoint (its ``config.json`` beside it). Files are opened with
the safe loader; RVC voices also need the shared HuBERT/RMVPE files (``models.files``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models import builtin
from models.base import Voice, VoiceInfo, VoiceParams


@dataclass(frozen=True)
class VoiceFileOptions:
    """How a voice file is opened (ignored for built-ins)."""

    index: Path | None = None
    """RVC retrieval index; None picks the single ``*.index`` beside the voice, if any."""
    hubert: Path | None = None
    rmvpe: Path | None = None
    device: str = "cpu"
    llvc_chunk_factor: int = 1
    rvc_block_time: float = 0.25
    rvc_extra_time: float = 0.5
    rvc_crossfade_time: float = 0.05


def available_voices() -> list[VoiceInfo]:
    """Every voice a user can pick by name, built-ins first."""
    return builtin.list_voices()


def is_voice_file(spec: str | Path) -> bool:
    """True when ``spec`` names an existing file rather than a built-in voice."""
    return Path(spec).suffix.lower() in (".pth", ".pt", ".ckpt") or Path(spec).is_file()


def resolve_voice(
    spec: str,
    sample_rate: int = 48000,
    hop: int = 256,
    params: VoiceParams | None = None,
    options: VoiceFileOptions | None = None,
) -> Voice:
    """The voice ``spec``: a built-in built at ``sample_rate``/``hop``, or a voice file.

    Voice files run at their own rate and hop (the engine resamples). ``params`` (optional) are
    applied with ``set_params``. Raises :class:`models.errors.VoiceNotFoundError` listing the known
    names, or :class:`models.errors.ModelFormatError` for a file that is not a voice.
    """
    if is_voice_file(spec):
        voice = open_voice_file(Path(spec), options or VoiceFileOptions())
    else:
        voice = builtin.create_voice(spec, sample_rate=sample_rate, hop=hop)
    if params is not None:
        voice.set_params(params)
    return voice


def sibling_index(path: Path) -> Path | None:
    """The retrieval index next to a voice file when there is exactly one candidate."""
    candidates = sorted(path.parent.glob("*.index"))
    named = [c for c in candidates if path.stem in c.name]
    if len(named) == 1:
        return named[0]
    return candidates[0] if len(candidates) == 1 else None


def open_voice_file(path: Path, options: VoiceFileOptions) -> Voice:
    """Open an RVC or LLVC voice file as a streaming voice (kind detected safely)."""
    from models.checkpoint import detect
    from models.errors import ModelFormatError, VoiceNotFoundError
    from models.kinds import ModelKind

    if not path.is_file():
        raise VoiceNotFoundError(f"no voice file at {path}")
    kind = detect(path).kind
    if kind is ModelKind.LLVC:
        from models.llvc import load_voice as load_llvc

        config_json = path.with_name("config.json")
        config = config_json if config_json.is_file() else None
        return load_llvc(path, config, chunk_factor=options.llvc_chunk_factor)
    if kind in (ModelKind.RVC, ModelKind.RVC_TRAINING):
        from models import files
        from models.rvc.inference import open_realtime_voice
        from models.rvc.realtime import RealtimeConfig

        hubert = files.require(files.HUBERT, options.hubert)
        rmvpe = files.locate(files.RMVPE, options.rmvpe)
        rt_config = RealtimeConfig(
            block_time=options.rvc_block_time,
            extra_time=options.rvc_extra_time,
            crossfade_time=options.rvc_crossfade_time,
        )
        index = options.index if options.index is not None else sibling_index(path)
        return open_realtime_voice(
            path, hubert, rmvpe.path if rmvpe.present else None, index, rt_config, device=options.device
        )
    raise ModelFormatError(
        f"{path.name} is a {kind} file, not a voice (expected an RVC .pth or an LLVC checkpoint)"
    )
