"""Safe loading and format detection with real malicious, broken and foreign files."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from models.checkpoint import FAIRSEQ_FOREIGN, ForeignObject, ModelFormatError, detect, safe_load
from models.kinds import ModelKind
from models.testing import load_manifest

REF = Path(__file__).resolve().parents[1] / "fixtures" / "reference"


class _SystemPayload:
    """Unpickling this runs ``os.system(cmd)``: the classic malicious checkpoint."""

    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (self.cmd,))


class _EvalPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


class _PopenPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (subprocess.Popen, (["touch", str(self.marker)],))


def _voice_like(payload: object) -> dict[str, object]:
    return {"weight": {"emb_g.weight": torch.zeros(2, 4, dtype=torch.float16)}, "config": [0], "x": payload}


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("kind", ["system", "eval", "popen"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, kind: str, zip_format: bool) -> None:
    marker = tmp_path / "pwned"
    payload = {
        "system": _SystemPayload(f"touch {marker}"),
        "eval": _EvalPayload(marker),
        "popen": _PopenPayload(marker),
    }[kind]
    path = tmp_path / "evil.pth"
    torch.save(_voice_like(payload), path, _use_new_zipfile_serialization=zip_format)
    expected = {"system": "os.system|posix.system", "eval": "eval", "popen": "subprocess.Popen"}[kind]
    with pytest.raises(ModelFormatError, match=rf"evil.pth contains code \(({expected})\); refusing"):
        safe_load(path)
    with pytest.raises(ModelFormatError, match="contains code"):
        detect(path)
    assert not marker.exists(), "the pickle's payload ran"


def test_sanity_the_payload_would_run_with_an_unsafe_load(tmp_path: Path) -> None:
    """Proves the malicious file above is real: plain pickle does run it (in a child process)."""
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_SystemPayload(f"touch {marker}")))
    code = f"import pickle; pickle.load(open({str(path)!r}, 'rb'))"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert marker.exists()


def test_raw_pickle_payload_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"model": _SystemPayload(f"touch {marker}")}, protocol=2))
    with pytest.raises(ModelFormatError, match=r"evil\.pth"):
        safe_load(path)
    assert not marker.exists()


def _fake_fairseq_dictionary() -> type:
    cls = type("Dictionary", (), {"__module__": "fairseq.data.dictionary"})
    return cls


def _save_with_fake_module(obj_factory, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Pickle an object of a class living in a fake ``fairseq.data.dictionary`` module."""
    names = ["fairseq", "fairseq.data", "fairseq.data.dictionary"]
    saved = {n: sys.modules.get(n) for n in names}
    cls = _fake_fairseq_dictionary()
    for n in names:
        sys.modules[n] = types.ModuleType(n)
    sys.modules["fairseq.data.dictionary"].Dictionary = cls  # type: ignore[attr-defined]
    try:
        torch.save(obj_factory(cls), path)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def test_allow_listed_foreign_class_becomes_inert_stub(tmp_path: Path) -> None:
    path = tmp_path / "hubert_like.pt"

    def make(cls: type) -> dict[str, object]:
        d = cls()
        d.symbols = ["<s>", "<pad>", "</s>", "<unk>", "1"]
        d.pad_index = 1
        return {"model": {"w": torch.ones(2)}, "task_state": {"dictionaries": [d]}, "args": None}

    _save_with_fake_module(make, path)
    assert "fairseq" not in sys.modules
    with pytest.raises(ModelFormatError, match=r"contains code \(fairseq.data.dictionary.Dictionary\)"):
        safe_load(path)
    obj = safe_load(path, allow_foreign=FAIRSEQ_FOREIGN)
    stub = obj["task_state"]["dictionaries"][0]
    assert isinstance(stub, ForeignObject)
    assert stub.foreign_name == "fairseq.data.dictionary.Dictionary"
    assert stub.symbols == ["<s>", "<pad>", "</s>", "<unk>", "1"]
    assert stub.pad_index == 1
    assert torch.equal(obj["model"]["w"], torch.ones(2))
    assert "fairseq" not in sys.modules


def test_allow_foreign_does_not_open_other_globals(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "x": _SystemPayload(f"touch {marker}")}, path)
    with pytest.raises(ModelFormatError, match="contains code"):
        safe_load(path, allow_foreign=FAIRSEQ_FOREIGN)
    assert not marker.exists()


def _small_state(manifest_name: str, limit: int | None = None) -> dict[str, torch.Tensor]:
    """The manifest's keys with their real shapes, zero-filled (detection only reads shapes)."""
    m = load_manifest(REF / manifest_name)
    out = {}
    for e in m["state_dict"]["tensors"][:limit]:
        dtype = torch.int64 if e["dtype"] == "int64" else getattr(torch, e["dtype"])
        out[e["key"]] = torch.zeros(e["shape"], dtype=dtype)
    return out


@pytest.fixture(scope="module")
def other_kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[ModelKind, Path]:
    d = tmp_path_factory.mktemp("kinds")
    files = {
        ModelKind.RMVPE: (_small_state("manifest_rmvpe.json"), "rmvpe.pt"),
        ModelKind.LLVC: ({"model": _small_state("manifest_llvc.json"), "epoch": 1, "step": 5},
                         "G_500000.pth"),
        ModelKind.HUBERT: ({"args": None, "cfg": {"model": {"_name": "hubert"}},
                    "model": _small_state("manifest_hubert_base.json")}, "hubert_base.pt"),
    }  # fmt: skip
    out = {}
    for kind, (obj, name) in files.items():
        torch.save(obj, d / name)
        out[kind] = d / name
    return out


@pytest.mark.parametrize("kind", [ModelKind.RMVPE, ModelKind.LLVC, ModelKind.HUBERT])
def test_detect_other_kinds(other_kinds: dict[ModelKind, Path], kind: ModelKind) -> None:
    found = detect(other_kinds[kind])
    assert found.kind is kind
    assert found.sample_rate == 16000
    assert found.n_params > 0


@pytest.mark.parametrize("kind", [ModelKind.RMVPE, ModelKind.LLVC, ModelKind.HUBERT])
def test_wrong_kind_names_both(other_kinds: dict[ModelKind, Path], kind: ModelKind) -> None:
    with pytest.raises(ModelFormatError) as err:
        detect(other_kinds[kind], expected=(ModelKind.RVC,))
    msg = str(err.value)
    assert "\n" not in msg
    assert other_kinds[kind].name in msg and "expected an RVC voice model" in msg


def test_truncated_zip(tmp_path: Path, other_kinds: dict[ModelKind, Path]) -> None:
    data = other_kinds[ModelKind.RMVPE].read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        bad = tmp_path / "cut.pth"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFormatError, match=r"cut.pth is truncated"):
            safe_load(bad)


def test_truncated_legacy(tmp_path: Path) -> None:
    full = tmp_path / "full.pth"
    torch.save({"model": {"w": torch.ones(1000)}}, full, _use_new_zipfile_serialization=False)
    data = full.read_bytes()
    bad = tmp_path / "cut.pth"
    for cut in (len(data) // 2, 40):
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFormatError, match=r"cut\.pth"):
            safe_load(bad)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b"", "empty"),
        (os.urandom(4096), "not a PyTorch"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64), "WAV audio"),
        (b"\x80\x02" + os.urandom(200), "PyTorch|pickle|truncated"),
        (b"PK\x03\x04" + os.urandom(300), "truncated or corrupt"),
    ],
    ids=["empty", "random", "wav", "random-pickle", "random-zip"],
)
def test_broken_files_one_line_errors(tmp_path: Path, content: bytes, pattern: str) -> None:
    path = tmp_path / "voice.pth"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match=pattern) as err:
        detect(path, expected=(ModelKind.RVC,))
    assert "\n" not in str(err.value)
    assert "voice.pth" in str(err.value)


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="does not exist"):
        safe_load(tmp_path / "nope.pth")
    with pytest.raises(ModelFormatError, match="folder"):
        safe_load(tmp_path)


def test_zip_without_pickle(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "x.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFormatError, match="not a PyTorch checkpoint"):
        safe_load(path)


def test_torch_file_of_unknown_content(tmp_path: Path) -> None:
    path = tmp_path / "thing.pth"
    torch.save({"foo": 1, "bar": [1, 2]}, path)
    with pytest.raises(ModelFormatError, match=r"thing.pth is a PyTorch file but not a model .*foo"):
        detect(path)
    assert safe_load(path) == {"foo": 1, "bar": [1, 2]}
