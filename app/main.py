"""Entry point of the ``voxshift`` command: the app without arguments, a CLI command otherwise."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from app.cli import build_parser
from app.versions import version_report


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args_list:
        return _start_app()
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.version:
        print(version_report())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _start_app() -> int:
    """The desktop app; without a display, the headless live mode on the default devices."""
    if has_display() and importlib.util.find_spec("app.gui") is not None:
        from app.gui import run_gui

        return run_gui()
    print(
        "voxshift: no display found, so no window: running the built-in voice 'deeper' headless on "
        "the default devices (Ctrl+C stops; `voxshift --help` lists the commands)",
        file=sys.stderr,
    )
    return main(["live", "--voice", "deeper"])


def has_display() -> bool:
    """Whether Qt can open a window: always on Windows/macOS, on Linux an X11/Wayland session."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))
