"""`voxshift convert`: convert audio files offline with the same voice code as live mode."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from app.cli.options import add_f0_method, add_model_files
from models.base import Voice, VoiceParams
from models.errors import VoxshiftError
from models.offline import ArrayConverter, convert_file
from models.rvc.pipeline import RvcPipeline
from models.voices import resolve_voice

EPILOG = """examples:
  voxshift convert talk.wav --voice deeper             writes talk.deeper.wav beside talk.wav
  voxshift convert a.wav b.flac --voice shift --pitch 4 --formant -1 -o out/
  voxshift convert talk.wav --voice robot -o robot.wav --overwrite
  voxshift convert talk.wav -m voice.pth --index added_voice.index --pitch 3 -o out/
  voxshift convert a.wav -m voice.pth --f0-method fcpe --index-rate 0.5 --protect 0.4
"""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
OFFLINE_RATE = 48000
"""Rate the built-in voices run at offline (the output is written at the input's rate)."""
OFFLINE_HOP = 512


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert audio files with a voice",
        description="Convert audio files offline. Each output is named <stem>.<voice>.wav beside its "
        "input or in -o DIR; an input is never overwritten, an existing output only with --overwrite.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files (anything soundfile reads)")
    parser.add_argument("--voice", "-v", default="shift", help="voice name (see `voxshift voices`)")
    parser.add_argument("--pitch", type=float, default=0.0, help="pitch shift in semitones")
    parser.add_argument("--formant", type=float, default=0.0, help="formant shift in semitones")
    parser.add_argument("-o", "--output", metavar="OUT_OR_DIR", help="output file (one input) or folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    rvc = parser.add_argument_group("RVC voice files (instead of --voice)")
    rvc.add_argument("-m", "--model", metavar="VOICE.pth", help="an RVC voice file (.pth)")
    rvc.add_argument("--index", metavar="FILE.index", help="its retrieval index (added_*.index)")
    add_f0_method(rvc)
    rvc.add_argument("--index-rate", type=float, default=0.75, help="share of retrieved features, 0..1")
    rvc.add_argument(
        "--protect", type=float, default=0.33, help="keep voiceless consonants, 0..0.5 (0.5 = off)"
    )
    rvc.add_argument(
        "--rms-mix-rate", type=float, default=0.25, help="1 keeps the output loudness, 0 the input's"
    )
    rvc.add_argument("--speaker", type=int, default=0, help="speaker id of multi-speaker voices")
    add_model_files(rvc, "the models folder")
    parser.set_defaults(func=run)


def resolve_converter(args: argparse.Namespace) -> tuple[str, Voice | ArrayConverter]:
    """The converter the arguments ask for and its label for output names.

    With ``-m voice.pth`` it is the RVC reference pipeline (output at the input's rate).
    """
    if getattr(args, "model", None):
        return _rvc_converter(args)
    params = VoiceParams(pitch=args.pitch, formant=args.formant)
    voice = resolve_voice(args.voice, sample_rate=OFFLINE_RATE, hop=OFFLINE_HOP, params=params)
    return voice.name, voice


def _rvc_converter(args: argparse.Namespace) -> tuple[str, ArrayConverter]:
    from models import files
    from models.memory import tune_for_file_conversion
    from models.rvc.inference import open_pipeline
    from models.rvc.pipeline import PipelineConfig

    tune_for_file_conversion()  # this process only converts files: bounded memory over long ones

    config = PipelineConfig(
        pitch=args.pitch,
        index_rate=args.index_rate,
        protect=args.protect,
        rms_mix_rate=args.rms_mix_rate,
        sid=args.speaker,
    )
    hubert = files.require(files.HUBERT, args.content_encoder)
    rmvpe = files.require(files.RMVPE, args.pitch_model) if args.f0_method == "rmvpe" else None
    pipeline = open_pipeline(args.model, hubert, rmvpe, args.index, args.f0_method, config)
    return Path(args.model).stem, pipeline


def output_path(src: Path, label: str, output: str | None, n_inputs: int) -> Path:
    """``<stem>.<label>.wav`` beside ``src`` or in the ``-o`` folder; ``-o FILE`` for one input."""
    name = f"{src.stem}.{label}.wav"
    if output is None:
        return src.with_name(name)
    out = Path(output)
    if out.is_dir():
        return out / name
    if out.suffix.lower() in AUDIO_SUFFIXES:
        if n_inputs > 1:
            raise VoxshiftError(f"-o {out} is a file name but {n_inputs} inputs were given; use a folder.")
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / name


def run(args: argparse.Namespace) -> int:
    try:
        label, converter = resolve_converter(args)
    except (VoxshiftError, ValueError) as exc:
        print(f"voxshift convert: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name in args.inputs:
        src = Path(name)
        try:
            dst = output_path(src, label, args.output, len(args.inputs))
            _convert_one(src, dst, converter, args.overwrite)
        except (VoxshiftError, OSError) as exc:
            failed += 1
            print(f"voxshift convert: failed: {exc}", file=sys.stderr)
            continue
        print(f"{src} -> {dst}")
    if failed:
        print(f"voxshift convert: {failed} of {len(args.inputs)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _convert_one(src: Path, dst: Path, converter: Voice | ArrayConverter, overwrite: bool) -> None:
    with tqdm(total=100, desc=src.name, unit="%", leave=False, file=sys.stderr) as bar:

        def progress(fraction: float) -> None:
            bar.update(round(100 * fraction) - bar.n)

        if isinstance(converter, RvcPipeline):  # per-segment progress inside the whole-file call
            converter.progress = lambda f: progress(0.05 + 0.9 * f)

        convert_file(src, dst, converter, overwrite=overwrite, progress=progress)
