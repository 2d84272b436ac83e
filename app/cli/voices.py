"""`voxshift voices`: list the voices you can pick with --voice."""

from __future__ import annotations

import argparse

from models.voices import available_voices

EPILOG = """examples:
  voxshift voices                            list every voice with a description
  voxshift convert talk.wav --voice deeper   then use one by name
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "voices",
        help="list the available voices",
        description="List the voices --voice accepts (built-in voices need no model files).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    infos = available_voices()
    width = max(len(i.name) for i in infos)
    for info in infos:
        print(f"{info.name:<{width}}  {info.kind.value:<11}  {info.description}")
    return 0
