"""Options that several commands share, so each thing has one name everywhere.

An older or other-command spelling stays accepted as a hidden alias (not shown in ``--help``).
"""

from __future__ import annotations

import argparse
from typing import Any

from models.base import F0_METHODS

ArgumentTarget = argparse._ActionsContainer
"""A parser or one of its argument groups."""


def hidden_alias(target: ArgumentTarget, *names: str, dest: str, **kwargs: Any) -> None:
    """Accept ``names`` for the option stored in ``dest`` without listing them in ``--help``."""
    target.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)


def add_model_files(target: ArgumentTarget, default: str) -> None:
    """``--content-encoder`` (hubert_base.pt) and ``--pitch-model`` (rmvpe.pt); ``default`` says
    where they are found without the option. ``--hubert`` / ``--rmvpe`` are hidden aliases."""
    target.add_argument(
        "--content-encoder", metavar="PATH", default=None, help=f"hubert_base.pt (default: {default})"
    )
    target.add_argument(
        "--pitch-model",
        metavar="PATH",
        default=None,
        help=f"rmvpe.pt for --f0-method rmvpe (default: {default})",
    )
    hidden_alias(target, "--hubert", dest="content_encoder", metavar="PATH")
    hidden_alias(target, "--rmvpe", dest="pitch_model", metavar="PATH")


def add_f0_method(target: ArgumentTarget, help: str = "pitch tracker (default rmvpe)") -> None:
    target.add_argument("--f0-method", default="rmvpe", choices=F0_METHODS, help=help)


def add_output_dir(target: ArgumentTarget, default: str, help: str) -> None:
    """``-o`` / ``--output`` for a folder (``--out`` stays as a hidden alias)."""
    target.add_argument("-o", "--output", dest="out", metavar="DIR", default=default, help=help)
    hidden_alias(target, "--out", dest="out", metavar="DIR")
