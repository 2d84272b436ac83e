"""Command-line interface. Each subcommand lives in its own module with ``register(subparsers)``.

A module's ``register`` adds one parser and sets ``func`` (a callable taking the parsed
``argparse.Namespace`` and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

# Listed in the order `voxshift --help` shows them. Modules that do not exist yet are skipped.
COMMAND_MODULES = ("devices", "voices", "live", "convert", "models", "train")

EPILOG = """examples:
  voxshift                                  start the desktop app
  voxshift devices                          list audio devices
  voxshift live --voice deeper --seconds 30 talk through a built-in voice
  voxshift convert talk.wav --voice higher  convert a file
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxshift",
        description="Voxshift: a realtime voice changer. Without a command, starts the app.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    available = {m.name for m in pkgutil.iter_modules(__path__)}
    for name in COMMAND_MODULES:
        if name in available:
            importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser
