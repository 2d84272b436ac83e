"""Safe loading of untrusted model files and format detection.

A ``.pth`` from the internet is a pickle, and a pickle can run any code while it is read. Every
model file a user gives Voxshift is therefore opened with :func:`safe_load`, which never executes
code: it uses torch's ``weights_only`` unpickler (tensors, containers and plain Python values only,
in both the zip and the legacy format). Foreign classes that some real checkpoints contain, such as
the ``fairseq.data.dictionary.Dictionary`` inside ``hubert_base.pt``, can be named explicitly in
``allow_foreign``: they are rebuilt as inert :class:`ForeignObject` stubs that only hold their
pickled state. Anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, an unknown
class) is refused with a one-line :class:`ModelFormatError`.

:func:`detect` then says what a file is (an RVC voice, an RVC training checkpoint, HuBERT,
RMVPE, LLVC, ...) by inspecting keys and shapes, and :func:`inspect_file` does the same while
returning the loaded object, so that loaders read each file only once.

This module does not import Qt and loads no model code.
"""

from __future__ import annotations

import _compat_pickle
import pickle
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from models.errors import ModelFormatError
from models.kinds import ModelKind, RvcVersion, WeightNorm

__all__ = [
    "FAIRSEQ_FOREIGN",
    "ForeignObject",
    "ModelFile",
    "ModelFormatError",
    "detect",
    "inspect_file",
    "safe_load",
]

FAIRSEQ_FOREIGN: tuple[str, ...] = ("fairseq.data.dictionary.Dictionary", "argparse.Namespace")
"""Foreign classes found in fairseq checkpoints (HuBERT / ContentVec ``hubert_base.pt``)."""

_ZIP_MAGIC = b"PK\x03\x04"
_GLOBAL_RE = re.compile(r"GLOBAL ([\w.]+)")
_FUNC_RE = re.compile(r"(?:function|got) <?(?:class |built-in function |function )?'?([\w.]+)")


class ForeignObject:
    """Inert stand-in for an allow-listed foreign class: it only stores the pickled state.

    ``foreign_name`` is the dotted name the pickle used; ``state`` is what ``__setstate__`` got
    (usually the original ``__dict__``), also copied into attributes when it is a dict.
    """

    foreign_name: str = ""

    def __setstate__(self, state: Any) -> None:
        self.state = state
        if isinstance(state, dict):
            for key, value in state.items():
                if isinstance(key, str) and key.isidentifier() and key != "state":
                    object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        return f"<ForeignObject {self.foreign_name}>"


_STUBS: dict[str, type[ForeignObject]] = {}


def _stub_for(name: str) -> type[ForeignObject]:
    """One stub class per dotted name, created once (torch's allow-list is keyed by identity)."""
    if name not in _STUBS:
        if not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", name):
            raise ValueError(f"allow_foreign needs dotted class names like 'pkg.mod.Class', got {name!r}")
        module, _, cls = name.rpartition(".")
        _STUBS[name] = type(cls, (ForeignObject,), {"foreign_name": name, "__module__": module})
    return _STUBS[name]


def _sniff(path: Path, head: bytes) -> str | None:
    """What a file that is not a torch checkpoint looks like, from its first bytes (or None)."""
    if head.startswith(b"RIFF"):
        return "a WAV audio file"
    if head.startswith((b"fLaC", b"OggS", b"ID3")) or head[:2] == b"\xff\xfb":
        return "an audio file"
    if head[:4] in (b"IwFl", b"IxFI", b"IvFI", b"IxF2", b"IwF2", b"IxPQ", b"IwPQ"):
        return "a FAISS index (.index)"
    if head.lstrip()[:1] in (b"{", b"[") and path.suffix.lower() == ".json":
        return "a JSON file"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "a safetensors file (not supported; use the .pth)"
    if head.startswith(b"\x08") and path.suffix.lower() == ".onnx":
        return "an ONNX model (not supported; use the .pth)"
    if head.startswith(_ZIP_MAGIC) or head[:1] == b"\x80":
        return None
    return "not a PyTorch checkpoint"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise ModelFormatError(f"{path} does not exist")
    if path.is_dir():
        raise ModelFormatError(f"{path} is a folder, expected a model file")
    if path.stat().st_size == 0:
        raise ModelFormatError(f"{path.name} is empty (0 bytes); the download or copy probably failed")


def _zip_problem(path: Path) -> str | None:
    """Why a zip-format checkpoint cannot be read (None if its directory looks complete)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return "is truncated or corrupt (broken zip archive)"
    if not any(n.endswith("data.pkl") for n in names):
        return "is a zip archive but not a PyTorch checkpoint (no data.pkl)"
    return None


def _python3_name(full: str) -> str:
    """Undo pickle protocol 2's Python 2 renames (``commands.Popen`` is ``subprocess.Popen``)."""
    module, _, name = full.rpartition(".")
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}" if module else name


def _refused_global(message: str) -> str:
    """The dotted name of the global a weights-only load refused, parsed from torch's message."""
    m = _GLOBAL_RE.search(message)
    if m:
        return _python3_name(m.group(1))
    m = _FUNC_RE.search(message)
    return m.group(1) if m else "an unknown callable"


def _translate(path: Path, exc: Exception) -> ModelFormatError:
    """Turn whatever torch raised into one line that says what the file is."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and (
        "GLOBAL" in text or "reduce" in text or "Can only" in text or "allowlisted" in text
    ):
        name = _refused_global(text)
        return ModelFormatError(f"{path.name} contains code ({name}); refusing to load an untrusted pickle")
    if isinstance(exc, EOFError) or "Ran out of input" in text or "truncated" in text:
        return ModelFormatError(f"{path.name} is truncated (it ends too early); download it again")
    if "central directory" in text or "PytorchStreamReader" in text or "zip archive" in text:
        return ModelFormatError(f"{path.name} is truncated or corrupt (broken zip archive); get it again")
    if "magic number" in text:
        return ModelFormatError(f"{path.name} is a Python pickle but not a PyTorch checkpoint")
    if "invalid load key" in text or isinstance(exc, pickle.UnpicklingError):
        return ModelFormatError(f"{path.name} is not a PyTorch checkpoint (unreadable pickle: {text[:80]})")
    why = f"{type(exc).__name__}: {text[:80]}"
    return ModelFormatError(f"{path.name} could not be read as a PyTorch checkpoint ({why})")


def safe_load(path: str | Path, *, allow_foreign: Iterable[str] = (), mmap: bool = False) -> Any:
    """Load a torch checkpoint without ever running code from it.

    Args:
        path: the file (zip or legacy torch format).
        allow_foreign: dotted class names (e.g. ``"fairseq.data.dictionary.Dictionary"``) that are
            rebuilt as inert :class:`ForeignObject` stubs instead of being refused.
        mmap: map zip-format tensors from the file instead of reading them (cheap inspection).

    Returns:
        The unpickled object; tensors are on the CPU in their stored dtype.

    Raises:
        ModelFormatError: missing, empty, truncated, random or non-torch files, and pickles that
            reference any global outside torch's weights-only set and ``allow_foreign``.
    """
    p = Path(path)
    _check_readable(p)
    with open(p, "rb") as f:
        head = f.read(16)
    other = _sniff(p, head)
    if other is not None:
        raise ModelFormatError(f"{p.name} is {other}, expected a PyTorch model file (.pth/.pt)")
    is_zip = head.startswith(_ZIP_MAGIC)
    if is_zip:
        problem = _zip_problem(p)
        if problem:
            raise ModelFormatError(f"{p.name} {problem}; download it again")
    stubs: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = [
        (_stub_for(n), n) for n in allow_foreign
    ]
    try:
        with torch.serialization.safe_globals(stubs):
            return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap and is_zip)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        OSError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
    ) as exc:
        raise _translate(p, exc) from exc


# --------------------------------------------------------------------------------------------
# Detection


@dataclass(frozen=True)
class ModelFile:
    """What a model file is, found from its keys and shapes (never from its name)."""

    path: Path
    kind: ModelKind
    version: RvcVersion | None = None
    """RVC: v1 (256-dim content features) or v2 (768-dim)."""
    f0: bool | None = None
    """RVC: pitch-conditioned (NSF decoder) or not."""
    sample_rate: int | None = None
    """Output rate in Hz (RVC: 32000/40000/48000; LLVC/HuBERT/RMVPE: 16000)."""
    n_speakers: int | None = None
    """RVC: rows of ``emb_g.weight``."""
    weight_norm: WeightNorm | None = None
    dtype: str | None = None
    """Stored dtype of the floating-point weights, e.g. "float16"."""
    n_params: int = 0
    info: str = ""
    """Free text stored in the file (RVC ``info``), for display."""

    @property
    def description(self) -> str:
        return self.kind.description

    def summary(self) -> dict[str, str]:
        """Short facts for a voice card / CLI listing."""
        out = {"kind": self.description}
        if self.version:
            out["version"] = self.version.value
        if self.f0 is not None:
            out["f0"] = "yes" if self.f0 else "no"
        if self.sample_rate:
            out["rate"] = f"{self.sample_rate / 1000:g} kHz"
        if self.n_speakers is not None:
            out["speakers"] = str(self.n_speakers)
        if self.dtype:
            out["dtype"] = self.dtype
        if self.n_params:
            out["params"] = f"{self.n_params / 1e6:.1f} M"
        return out


def strip_ddp_prefix(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that DistributedDataParallel adds to every key."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module.") :]: v for k, v in sd.items()}
    return dict(sd)


def _tensors(obj: Any) -> dict[str, torch.Tensor] | None:
    """``obj`` as a flat state dict (str -> Tensor), or None when it is not one."""
    if not isinstance(obj, Mapping) or not obj:
        return None
    if all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return strip_ddp_prefix(obj)
    return None


def _weight_norm_style(sd: Mapping[str, torch.Tensor]) -> WeightNorm:
    if any(k.endswith(".parametrizations.weight.original0") for k in sd):
        return WeightNorm.NEW
    if any(k.endswith(".weight_g") for k in sd):
        return WeightNorm.OLD
    return WeightNorm.NONE


def _float_dtype(sd: Mapping[str, torch.Tensor]) -> str | None:
    dtypes = {str(t.dtype).replace("torch.", "") for t in sd.values() if t.is_floating_point()}
    return "/".join(sorted(dtypes)) or None


def _n_params(sd: Mapping[str, torch.Tensor]) -> int:
    return sum(int(t.numel()) for t in sd.values() if t.is_floating_point())


def _is_rvc_generator(sd: Mapping[str, torch.Tensor]) -> bool:
    return "enc_p.emb_phone.weight" in sd and "emb_g.weight" in sd and "dec.conv_pre.weight" in sd


def _rvc_shape_facts(sd: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Version, f0 and speaker count from an RVC generator state dict's shapes."""
    return {
        "version": RvcVersion.from_content_dim(int(sd["enc_p.emb_phone.weight"].shape[1])),
        "f0": "enc_p.emb_pitch.weight" in sd,
        "n_speakers": int(sd["emb_g.weight"].shape[0]),
        "weight_norm": _weight_norm_style(sd),
        "dtype": _float_dtype(sd),
        "n_params": _n_params(sd),
    }


def _rvc_rate_from_shapes(sd: Mapping[str, torch.Tensor]) -> int | None:
    """Output rate of a generator without a config (training checkpoints), from layer shapes.

    The ConvTranspose kernels plus (for f0 models) the noise-conv strides or (with ``enc_q``)
    the STFT size pin the variant down; see ``models.rvc.config.infer_config_from_state_dict``.
    """
    from models.rvc.config import infer_config_from_state_dict

    try:
        return infer_config_from_state_dict(sd).sample_rate
    except ModelFormatError:
        return None


def _config_rate(config: Any) -> int | None:
    """The output rate a community config list names in its last entry (Hz), if it does."""
    if not isinstance(config, (list, tuple)) or not config:
        return None
    last = config[-1]
    if isinstance(last, str) and last.endswith("k") and last[:-1].isdigit():
        return int(last[:-1]) * 1000
    return last if isinstance(last, int) and not isinstance(last, bool) else None


def _rvc_voice(path: Path, obj: Mapping[str, Any]) -> ModelFile:
    sd = _tensors(obj.get("weight"))
    if sd is None or not _is_rvc_generator(sd):
        raise ModelFormatError(f"{path.name} looks like an RVC voice but its 'weight' is no RVC generator")
    facts = _rvc_shape_facts(sd)
    config = obj.get("config")
    rate = _config_rate(config)
    if rate is None:
        rate = _rvc_rate_from_shapes(sd)
    info = obj.get("info")
    return ModelFile(
        path, ModelKind.RVC, sample_rate=rate, info=info if isinstance(info, str) else "", **facts
    )


def _rvc_generator_checkpoint(
    path: Path, obj: Mapping[str, Any], sd: Mapping[str, torch.Tensor]
) -> ModelFile:
    facts = _rvc_shape_facts(sd)
    training = any(k in obj for k in ("iteration", "optimizer", "learning_rate"))
    kind = ModelKind.RVC_TRAINING if training else ModelKind.RVC_PRETRAINED
    it = obj.get("iteration")
    info = f"iteration {it}" if isinstance(it, int) else ""
    return ModelFile(path, kind, sample_rate=_rvc_rate_from_shapes(sd), info=info, **facts)


def _classify_state_dict(path: Path, obj: Mapping[str, Any], sd: dict[str, torch.Tensor]) -> ModelFile | None:
    common: dict[str, Any] = {
        "dtype": _float_dtype(sd),
        "n_params": _n_params(sd),
        "weight_norm": _weight_norm_style(sd),
    }
    if _is_rvc_generator(sd):
        return _rvc_generator_checkpoint(path, obj, sd)
    if any(k.startswith("discriminators.") for k in sd):
        return ModelFile(path, ModelKind.RVC_DISCRIMINATOR, **common)
    if "feature_extractor.conv_layers.0.0.weight" in sd and any(k.startswith("encoder.layers.") for k in sd):
        return ModelFile(path, ModelKind.HUBERT, sample_rate=16000, **common)
    if any(k.startswith("unet.encoder.") for k in sd) and any(k.startswith("fc.") for k in sd):
        return ModelFile(path, ModelKind.RMVPE, sample_rate=16000, **common)
    if any(k.startswith("mask_gen.") for k in sd) and "out_conv.0.weight" in sd:
        return ModelFile(path, ModelKind.LLVC, sample_rate=16000, **common)
    return None


def _classify(path: Path, obj: Any) -> ModelFile:
    if isinstance(obj, Mapping) and "weight" in obj and "config" in obj:
        return _rvc_voice(path, obj)
    flat = _tensors(obj)
    if flat is not None:
        found = _classify_state_dict(path, {}, flat)
        if found:
            return found
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict", "net_g", "weight"):
            sd = _tensors(obj.get(key))
            if sd is not None:
                found = _classify_state_dict(path, obj, sd)
                if found:
                    return found
    raise ModelFormatError(f"{path.name} is a PyTorch file but not a model Voxshift knows ({_shape_of(obj)})")


def _shape_of(obj: Any) -> str:
    if isinstance(obj, Mapping):
        keys = [str(k) for k in list(obj)[:6]]
        more = ", ..." if len(obj) > 6 else ""
        return f"top-level keys: {', '.join(keys)}{more}" if keys else "an empty dict"
    return f"a {type(obj).__name__}"


def _expectation(expected: Collection[ModelKind]) -> str:
    """What the caller wanted, in words; RVC checkpoints are an accepted stand-in for a voice."""
    stand_ins = (ModelKind.RVC_TRAINING, ModelKind.RVC_PRETRAINED)
    main = [k for k in ModelKind if k in expected and (k not in stand_ins or ModelKind.RVC not in expected)]
    return " or ".join(k.description for k in main)


def inspect_file(
    path: str | Path, expected: Collection[ModelKind] | None = None, *, mmap: bool = False
) -> tuple[ModelFile, Any]:
    """Load ``path`` safely, detect what it is, and return ``(ModelFile, loaded object)``.

    Raises:
        ModelFormatError: unreadable/unsafe file, unknown content, or a kind not in ``expected``
            (the message names both what the file is and what was expected).
    """
    p = Path(path)
    want = f", expected {_expectation(expected)}" if expected else ""
    try:
        obj = safe_load(p, allow_foreign=FAIRSEQ_FOREIGN, mmap=mmap)
        found = _classify(p, obj)
    except ModelFormatError as exc:
        raise ModelFormatError(f"{exc}{want}") from exc
    if expected and found.kind not in expected:
        raise ModelFormatError(f"{p.name} is {found.description}{want}")
    return found, obj


def detect(path: str | Path, expected: Collection[ModelKind] | None = None) -> ModelFile:
    """What kind of model ``path`` holds (see :class:`ModelFile`), without running code from it."""
    found, _ = inspect_file(path, expected, mmap=True)
    return found
