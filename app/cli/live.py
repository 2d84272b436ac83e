"""``voxshift live``: headless realtime voice changing with a status line every second."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from typing import Any

from audio import native
from audio.config import LATE_POLICIES, EngineConfig, EngineStats, LiveParams
from audio.devices import DeviceError, check_config
from audio.engine import Engine
from models.base import PassthroughVoice, Voice, VoiceParams
from models.errors import VoxshiftError

EPILOG = """examples:
  voxshift live --voice deeper                       default devices, until Ctrl-C
  voxshift live --input 3 --output "CABLE Input" --voice shift --pitch 4 --formant 1
  voxshift live --voice higher --monitor headphones --hop-ms 5 --seconds 30
  voxshift devices                                   to find device indexes and names
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "live",
        help="change your voice in real time (no GUI)",
        description="Stream microphone -> voice -> output in real time; prints latency, RTF and xruns "
        "every second and a summary at exit.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--input", "-i", help="input device: index or (part of a) name; default device if omitted")
    p.add_argument("--output", "-o", help="output device: index or name (e.g. a virtual cable)")
    p.add_argument("--monitor", "-m", help="optional second output (headphones) with the same signal")
    p.add_argument("--voice", "-v", default="passthrough", help="voice name (see 'voxshift voices')")
    p.add_argument("--pitch", type=float, default=0.0, help="pitch shift in semitones")
    p.add_argument("--formant", type=float, default=0.0, help="formant shift in semitones")
    p.add_argument(
        "--hop-ms",
        type=float,
        default=10.0,
        help="processing hop in ms for voices that take any hop (default 10; LLVC and RVC voices "
        "use their own)",
    )
    p.add_argument(
        "--margin-ms",
        type=float,
        default=0.0,
        help="safety margin in ms on top of the minimum safe buffering, which follows the device's "
        "period and the voice's measured speed (default 0; raise it if a busy machine clicks)",
    )
    p.add_argument("--prefill-ms", dest="margin_ms", type=float, help=argparse.SUPPRESS)  # old name
    p.add_argument(
        "--noise-suppression",
        choices=("off", "light", "strong"),
        default="off",
        help="remove background noise before the voice (RNNoise; adds 20 ms of latency)",
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        help="record what you hear to a timestamped file in DIR (valid even if Voxshift is killed)",
    )
    p.add_argument("--record-input", action="store_true", help="with --record: the raw microphone too")
    p.add_argument(
        "--record-format", choices=("wav", "flac"), default="wav", help="with --record (default wav)"
    )
    p.add_argument("--samplerate", type=int, help="device sample rate (default: the input's)")
    p.add_argument("--late", choices=LATE_POLICIES, default="dry", help="what a dropped hop sounds like")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=run)


def create_voice(name: str, sample_rate: int, hop: int) -> Voice:
    """The voice called ``name``: through ``models.voices.resolve_voice`` (built-ins and, later,
    voice files) or ``models.builtin.create_voice`` where they exist; ``passthrough`` always works."""
    for module, attr in (("models.voices", "resolve_voice"), ("models.builtin", "create_voice")):
        factory = _optional(module, attr)
        if factory is not None:
            voice: Voice = factory(name, sample_rate=sample_rate, hop=hop)
            return voice
    if name == "passthrough":
        return PassthroughVoice(sample_rate, hop)
    raise VoxshiftError(f"Unknown voice '{name}': only 'passthrough' is available in this build.")


def _optional(module: str, attr: str) -> Any:
    """``module.attr`` if that module exists and defines it, else None."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), attr, None)


def _status(stats: EngineStats, elapsed: float) -> str:
    if stats.measured_latency is None:
        measured = "planned only"
    else:
        measured = f"{stats.measured_latency * 1e3:.1f} ms measured ({stats.measured_source})"
    return (
        f"{elapsed:5.1f} s  latency {stats.planned.total * 1e3:.1f} ms planned, {measured}  "
        f"period {stats.period}  rtf {stats.rtf:.2f}  xruns {stats.xruns}  "
        f"underflows {stats.output_underflows}  late {stats.late_hops}  "
        f"in {stats.input_level_db:.0f} dB  out {stats.output_level_db:.0f} dB"
    )


def run(args: argparse.Namespace) -> int:
    try:
        _, _, _, rate = check_config(args.input, args.output, args.samplerate, monitor_device=args.monitor)
        hop = max(16, round(args.hop_ms * rate / 1000))
        voice = create_voice(args.voice, rate, hop)
        config = EngineConfig(
            input_device=args.input,
            output_device=args.output,
            monitor_device=args.monitor,
            samplerate=rate,
            margin=round(args.margin_ms * rate / 1000),
            noise_suppression=args.noise_suppression,
            late_policy=args.late,
        )
        engine = Engine(config, voice)
        engine.set_params(LiveParams(voice=VoiceParams(pitch=args.pitch, formant=args.formant)))
        engine.start()
    except (VoxshiftError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, DeviceError):
            print("Run 'voxshift devices' to see what is available.", file=sys.stderr)
        return 1
    if args.record:
        try:
            recording = engine.start_recording(
                args.record, with_input=args.record_input, fmt=args.record_format
            )
        except OSError as exc:
            engine.stop()
            print(f"error: cannot record to {args.record}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print("recording to " + ", ".join(str(p) for p in recording.paths), flush=True)
    return _loop(engine, args.seconds)


def _loop(engine: Engine, seconds: float | None) -> int:
    stats = engine.stats()
    print(f"voice '{stats.voice_name}' at {stats.samplerate} Hz; planned latency {stats.planned.describe()}")
    if not engine.native_callback:
        why = native.unavailable_reason() or "disabled"
        print(f"note: Python audio callback ({why}); the C callback is steadier under load", file=sys.stderr)
    start = time.monotonic()
    try:
        while engine.running and (seconds is None or time.monotonic() - start < seconds):
            time.sleep(min(1.0, max(0.05, (seconds or 1e9) - (time.monotonic() - start))))
            print(_status(engine.stats(), time.monotonic() - start), flush=True)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    stats = engine.stats()
    engine.stop()
    done = engine.last_recording
    if done is not None:
        files = ", ".join(str(p) for p in done.paths)
        print(
            f"recorded {done.seconds:.1f} s to {files}"
            + (f" ({done.dropped} frames lost)" if done.dropped else "")
        )
        if done.error:
            print(f"error: {done.error}", file=sys.stderr)
    measured = "planned only" if stats.measured_latency is None else f"{stats.measured_latency * 1e3:.1f} ms"
    print(
        f"summary: {stats.hops} hops, rtf {stats.rtf:.2f}, xruns {stats.xruns}, "
        f"underflows {stats.output_underflows} ({stats.period_gaps} at period changes), "
        f"late hops {stats.late_hops}, input overflows {stats.input_overflows}, period {stats.period} "
        f"({stats.replans} re-plans); measured latency {measured}; planned latency {stats.planned.describe()}"
    )
    if engine.error:
        print(f"error: {engine.error}", file=sys.stderr)
        return 1
    return 0
