"""``voxshift devices``: list host APIs and audio devices (channels, default rate, latencies)."""

from __future__ import annotations

import argparse
import sys

from audio.devices import DeviceError, list_devices, list_hostapis

EPILOG = """examples:
  voxshift devices                 every host API and device
  voxshift devices --kind input    only devices with input channels
  voxshift live --input 3 --output "CABLE Input"   then pick them by index or name
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="list audio devices",
        description="List PortAudio host APIs and devices with channels, default rate and latencies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--kind", choices=("input", "output"), help="only devices of this kind")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        hostapis = list_hostapis()
        devices = list_devices(args.kind)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("host APIs: " + (", ".join(h.name for h in hostapis) or "(none)"))
    if not devices:
        print(
            "No audio devices found: connect a microphone/headset or start your audio server "
            "(PulseAudio, PipeWire, JACK), then run 'voxshift devices' again."
        )
        return 1
    defaults = {h.default_input_device for h in hostapis} | {h.default_output_device for h in hostapis}
    print(f"{'#':>3}  {'in':>3} {'out':>3}  {'rate':>6}  {'low lat in/out ms':>17}  name (host API)")
    for d in devices:
        mark = "*" if d.index in defaults else " "
        lat = f"{d.default_low_input_latency * 1e3:.1f}/{d.default_low_output_latency * 1e3:.1f}"
        print(
            f"{d.index:>3}{mark} {d.max_input_channels:>3} {d.max_output_channels:>3}  "
            f"{d.default_samplerate:>6.0f}  {lat:>17}  {d.label}"
        )
    print("* = a host API's default device")
    return 0
