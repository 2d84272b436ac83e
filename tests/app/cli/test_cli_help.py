"""Every command's --help renders, lists its options and hides the aliases; one name per thing."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from app.cli import build_parser
from app.main import main


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[tuple]:
    """``(words, parser)`` for the top-level parser and every (nested) subcommand."""
    yield words, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*words, name))


PARSERS = dict(_commands(build_parser()))


def _mentioned(option: str, text: str) -> bool:
    """``option`` appears as a whole option name (``--version`` is not in ``--model-version``)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_every_command_is_covered():
    expected = {(), ("devices",), ("voices",), ("live",), ("convert",), ("models",), ("train",)}
    expected |= {("train", "rvc"), ("train", "llvc"), ("train", "report")}
    assert set(PARSERS) == expected


@pytest.mark.parametrize("words", sorted(PARSERS), ids=lambda w: " ".join(w) or "voxshift")
def test_help_renders_every_visible_option_and_no_alias(words, capsys):
    with pytest.raises(SystemExit) as done:
        main([*words, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('voxshift', *words))}")
    # a help string that argparse failed to format shows its internals (an unescaped % did)
    assert "option_strings" not in out and "%(" not in out
    for action in PARSERS[words]._actions:
        for option in action.option_strings:
            if action.help == argparse.SUPPRESS:
                assert not _mentioned(option, out), f"hidden alias {option} shows in {words} --help"
            else:
                assert _mentioned(option, out), f"{option} missing from {words} --help"
                if action.help:
                    first_words = " ".join(action.help.replace("%%", "%").split()[:3])
                    assert first_words in " ".join(out.split()), (option, first_words)


def test_one_visible_name_per_setting_across_commands():
    """Options that store the same setting have the same visible long name in every command."""
    names: dict[str, set[str]] = {}
    for parser in PARSERS.values():
        for action in parser._actions:
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs and action.help != argparse.SUPPRESS and action.dest != "help":
                names.setdefault(action.dest, set()).update(longs)
    assert {dest: opts for dest, opts in names.items() if len(opts) > 1} == {}
    assert names["content_encoder"] == {"--content-encoder"} and names["pitch_model"] == {"--pitch-model"}


@pytest.mark.parametrize(
    ("args", "dest", "value"),
    [
        (["convert", "a.wav", "--hubert", "h.pt"], "content_encoder", "h.pt"),
        (["convert", "a.wav", "--rmvpe", "r.pt"], "pitch_model", "r.pt"),
        (["convert", "a.wav", "--content-encoder", "h.pt"], "content_encoder", "h.pt"),
        (["train", "rvc", "--data", "d", "--name", "n", "--out", "o"], "out", "o"),
        (["train", "rvc", "--data", "d", "--name", "n", "-o", "o"], "out", "o"),
        (["train", "rvc", "--data", "d", "--name", "n", "--version", "v1"], "model_version", "v1"),
        (["train", "rvc", "--data", "d", "--name", "n", "--hubert", "h.pt"], "content_encoder", "h.pt"),
        (
            ["train", "llvc", "--teacher", "t", "--corpus", "c", "--name", "n", "--rmvpe", "r"],
            "pitch_model",
            "r",
        ),
    ],
)
def test_hidden_aliases_store_the_same_setting(args, dest, value):
    assert getattr(build_parser().parse_args(args), dest) == value


def test_defaults_stay_without_the_option():
    args = build_parser().parse_args(["train", "rvc", "--data", "d", "--name", "n"])
    assert (args.out, args.model_version, args.content_encoder, args.pitch_model) == (
        "runs",
        "v2",
        None,
        None,
    )
    args = build_parser().parse_args(["convert", "a.wav"])
    assert (args.content_encoder, args.pitch_model, args.f0_method) == (None, None, "rmvpe")
