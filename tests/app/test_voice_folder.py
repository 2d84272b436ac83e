"""The one voice-folder writer behind both the library's import and the training wizard's install."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.voice_library import CARD_FILE, free_slug, write_voice_folder


def _files(tmp_path: Path) -> tuple[Path, Path]:
    model, index = tmp_path / "src" / "My Voice!.pth", tmp_path / "src" / "added.index"
    model.parent.mkdir()
    model.write_bytes(b"model bytes")
    index.write_bytes(b"index bytes")
    return model, index


def test_same_name_twice_gets_a_second_folder_and_both_cards_point_at_their_copies(tmp_path: Path) -> None:
    model, index = _files(tmp_path)
    root = tmp_path / "voices"
    first = write_voice_folder(root, model, {"name": "My Voice!", "kind": "rvc"}, {"index": index})
    second = write_voice_folder(root, model, {"name": "My Voice!", "kind": "rvc"})
    assert (first.name, second.name) == ("My_Voice", "My_Voice-2")
    card = json.loads((first / CARD_FILE).read_text(encoding="utf-8"))
    assert card["model"] == model.name and card["index"] == index.name and card["source"] == str(model)
    assert (first / model.name).read_bytes() == b"model bytes"
    assert (first / index.name).read_bytes() == b"index bytes"
    assert "index" not in json.loads((second / CARD_FILE).read_text(encoding="utf-8"))
    assert sorted(p.name for p in root.iterdir()) == ["My_Voice", "My_Voice-2"]  # no staging left
    assert model.read_bytes() == b"model bytes"  # the source is untouched


def test_a_failed_copy_leaves_nothing_in_the_library(tmp_path: Path, monkeypatch) -> None:
    model, index = _files(tmp_path)
    root = tmp_path / "voices"
    write_voice_folder(root, model, {"name": "kept", "kind": "rvc"})
    real_copy = shutil.copy2

    def copy_then_fail(src, dst, **kw):  # the disk fills up on the second file
        if str(src).endswith(".index"):
            raise OSError(28, "No space left on device")
        return real_copy(src, dst, **kw)

    monkeypatch.setattr(shutil, "copy2", copy_then_fail)
    with pytest.raises(OSError, match="No space left"):
        write_voice_folder(root, model, {"name": "new", "kind": "rvc"}, {"index": index})
    assert sorted(p.name for p in root.iterdir()) == ["My_Voice"]


def test_free_slug_makes_a_safe_name(tmp_path: Path) -> None:
    assert free_slug(tmp_path, "../../etc/passwd") == "etc_passwd"
    assert free_slug(tmp_path, "...") == "voice"
