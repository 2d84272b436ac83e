"""The voice library: built-in voices plus the user's imported voices, and the import step.

An import validates every file with the safe loader (``models.checkpoint.detect``), never
unpickling code, then copies the files into ``<data>/voices/<slug>/`` next to a ``voice.json``
card. Shared model files (HuBERT/ContentVec, RMVPE) dropped along go to ``<data>/models/``.
Nothing is copied unless the whole drop is valid.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import paths
from models.errors import VoxshiftError

log = logging.getLogger(__name__)

CARD_FILE = "voice.json"
MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


class VoiceImportError(VoxshiftError):
    """A dropped file is not a voice Voxshift can use (the message says which and why)."""


@dataclass(frozen=True)
class SharedFile:
    """A model file all RVC voices share, and where a user gets it."""

    kind: str
    filename: str
    purpose: str
    source: str


SHARED_FILES = (
    SharedFile(
        "hubert",
        "hubert_base.pt",
        "content encoder (HuBERT/ContentVec) for RVC voices",
        "huggingface.co/lj1995/VoiceConversionWebUI, file hubert_base.pt",
    ),
    SharedFile(
        "rmvpe",
        "rmvpe.pt",
        "RMVPE pitch tracker for RVC voices with f0",
        "huggingface.co/lj1995/VoiceConversionWebUI, file rmvpe.pt",
    ),
)


@dataclass(frozen=True)
class VoiceEntry:
    """One card in the library."""

    id: str
    """"builtin:<name>" or "user:<folder name>"; stable, used for per-voice settings."""
    name: str
    kind: str
    """"builtin", "passthrough", "rvc", "llvc"."""
    description: str = ""
    details: dict[str, str] = field(default_factory=dict)
    model_file: Path | None = None
    index_file: Path | None = None
    config_file: Path | None = None
    missing: tuple[SharedFile, ...] = ()

    @property
    def builtin(self) -> bool:
        return self.id.startswith("builtin:")

    @property
    def kind_label(self) -> str:
        """E.g. "RVC v2 · 40 kHz · f0", "LLVC", "Built-in"."""
        if self.kind == "rvc":
            parts = [f"RVC {self.details.get('version', '')}".strip()]
            if "rate" in self.details:
                parts.append(self.details["rate"])
            if self.details.get("f0") in ("yes", "no"):
                parts.append("f0" if self.details["f0"] == "yes" else "no f0")
            return " · ".join(parts)
        if self.kind == "llvc":
            return "LLVC"
        return "Built-in"


@dataclass(frozen=True)
class ImportResult:
    voices: tuple[VoiceEntry, ...] = ()
    shared: tuple[str, ...] = ()
    """Shared model files installed (file names)."""


class VoiceLibrary:
    """Lists and imports voices. Plain Python (no Qt), so the CLI and tests can use it too."""

    def __init__(self, root: Path | None = None, shared_dir: Path | None = None) -> None:
        self.root = root or paths.voices_dir()
        self.shared_dir = shared_dir or paths.shared_models_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.shared_dir.mkdir(parents=True, exist_ok=True)

    # listing -----------------------------------------------------------------------------
    def entries(self) -> list[VoiceEntry]:
        return self.builtin_entries() + self.user_entries()

    def builtin_entries(self) -> list[VoiceEntry]:
        try:
            from models import builtin
        except ImportError:
            return []
        list_voices = getattr(builtin, "list_voices", None)
        if list_voices is None:
            return []
        return [
            VoiceEntry(
                id=f"builtin:{info.name}",
                name=info.name,
                kind=info.kind,
                description=info.description,
                details=dict(info.details),
            )
            for info in list_voices()
        ]

    def user_entries(self) -> list[VoiceEntry]:
        out = []
        for card in sorted(self.root.glob(f"*/{CARD_FILE}")):
            try:
                out.append(self._read_card(card))
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("skipping broken voice card %s: %s", card, err)
        return out

    def find(self, voice_id: str) -> VoiceEntry | None:
        return next((e for e in self.entries() if e.id == voice_id), None)

    def missing_shared(self, kind: str, details: dict[str, str]) -> tuple[SharedFile, ...]:
        """Shared files a voice of this kind needs that are not installed."""
        if kind != "rvc":
            return ()
        need = [s for s in SHARED_FILES if s.kind == "hubert" or details.get("f0") != "no"]
        return tuple(s for s in need if not (self.shared_dir / s.filename).exists())

    def shared_path(self, kind: str) -> Path:
        spec = next(s for s in SHARED_FILES if s.kind == kind)
        return self.shared_dir / spec.filename

    def _read_card(self, card: Path) -> VoiceEntry:
        data = json.loads(card.read_text(encoding="utf-8"))
        folder = card.parent
        details = {str(k): str(v) for k, v in dict(data.get("details", {})).items()}
        kind = str(data["kind"])

        def file(key: str) -> Path | None:
            name = data.get(key)
            return folder / str(name) if name else None

        return VoiceEntry(
            id=f"user:{folder.name}",
            name=str(data["name"]),
            kind=kind,
            description=str(data.get("description", "")),
            details=details,
            model_file=file("model"),
            index_file=file("index"),
            config_file=file("config"),
            missing=self.missing_shared(kind, details),
        )

    # import ------------------------------------------------------------------------------
    def import_files(self, files: Iterable[Path]) -> ImportResult:
        """Validate a drop (model files, .index, config.json) and copy it in; all or nothing."""
        plan = _plan_import([Path(f) for f in files])
        voices = []
        for model, detected, extras in plan.voices:
            voices.append(self._install_voice(model, detected, extras))
        for source, spec in plan.shared:
            _atomic_copy(source, self.shared_dir / spec.filename)
        return ImportResult(tuple(voices), tuple(spec.filename for _, spec in plan.shared))

    def remove(self, voice_id: str) -> None:
        if not voice_id.startswith("user:"):
            raise VoiceImportError("built-in voices cannot be removed")
        folder = self.root / voice_id.removeprefix("user:")
        if folder.parent == self.root and folder.is_dir():
            shutil.rmtree(folder)

    def _install_voice(self, model: Path, detected: _Detected, extras: dict[str, Path]) -> VoiceEntry:
        card: dict[str, Any] = {"name": model.stem, "kind": detected.kind, "details": detected.details}
        try:
            folder = write_voice_folder(self.root, model, card, extras)
        except OSError as err:
            raise VoiceImportError(f"could not copy {model.name} into {self.root}: {err}") from err
        return self._read_card(folder / CARD_FILE)


def free_slug(root: Path, stem: str) -> str:
    """A folder name under ``root`` made from ``stem``, not yet taken (``name``, ``name-2``, ...)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "voice"
    slug, n = base, 2
    while (root / slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def write_voice_folder(
    root: Path, model: Path, card: dict[str, Any], extras: dict[str, Path] | None = None
) -> Path:
    """Copy ``model`` and ``extras`` into a new ``<root>/<slug>/`` with a ``voice.json`` card.

    ``card`` gets ``model``, ``source`` and one entry per extra (key -> file name). The folder is
    staged under a hidden temporary name and renamed in one step, so the library never shows a
    half-copied voice; a voice of the same name is kept and the new one gets ``-2``. Raises
    ``OSError`` (nothing left behind) when the files cannot be written.
    """
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
    try:
        card = {**card, "model": model.name, "source": str(model)}
        shutil.copy2(model, staging / model.name)
        for key, path in (extras or {}).items():
            shutil.copy2(path, staging / path.name)
            card[key] = path.name
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2), encoding="utf-8")
        target = root / free_slug(root, model.stem)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


@dataclass(frozen=True)
class _Detected:
    kind: str
    details: dict[str, str]


@dataclass
class _Plan:
    voices: list[tuple[Path, _Detected, dict[str, Path]]] = field(default_factory=list)
    shared: list[tuple[Path, SharedFile]] = field(default_factory=list)


def _plan_import(files: list[Path]) -> _Plan:
    """Detect every file; raise VoiceImportError on the first one that is not usable."""
    if not files:
        raise VoiceImportError("nothing to import")
    for f in files:
        if not f.is_file():
            raise VoiceImportError(f"{f} is not a file")
    indexes = [f for f in files if f.suffix.lower() == ".index"]
    configs = [f for f in files if f.suffix.lower() == ".json"]
    models = [f for f in files if f.suffix.lower() in MODEL_SUFFIXES]
    others = [f for f in files if f not in indexes + configs + models]
    if others:
        raise VoiceImportError(
            f"{others[0].name}: not a voice file (expected .pth model files, an .index, or config.json)"
        )
    plan = _Plan()
    for model in models:
        detected = detect_model(model)
        shared = next((s for s in SHARED_FILES if s.kind == detected.kind), None)
        if shared is not None:
            plan.shared.append((model, shared))
            continue
        plan.voices.append((model, detected, {}))
    if not plan.voices and not plan.shared:
        raise VoiceImportError("no model file in the drop (an .index or config.json needs its .pth)")
    _attach_extras(plan, indexes, configs)
    return plan


def _attach_extras(plan: _Plan, indexes: list[Path], configs: list[Path]) -> None:
    """Give each RVC voice its .index and each LLVC voice its config.json (by name, else the only one)."""
    for kind, extras, key in (("rvc", indexes, "index"), ("llvc", configs, "config")):
        targets = [v for v in plan.voices if v[1].kind == kind]
        if extras and not targets:
            raise VoiceImportError(f"{extras[0].name} was dropped without a matching {kind.upper()} model")
        for model, _, attached in targets:
            match = _best_match(model, extras)
            if match is None and kind == "llvc":
                sibling = model.parent / "config.json"
                match = sibling if sibling.is_file() else None
            if match is not None:
                attached[key] = match


def _best_match(model: Path, candidates: list[Path]) -> Path | None:
    if len(candidates) == 1:
        return candidates[0]
    stem = model.stem.lower()
    return next((c for c in candidates if stem in c.stem.lower()), None)


def detect_model(path: Path) -> _Detected:
    """Kind and display facts of a model file, through the safe loader only."""
    try:
        from models.checkpoint import detect
    except ImportError as err:
        raise VoiceImportError("model import is not available in this build (models.checkpoint)") from err
    try:
        model_file = detect(path)
    except VoxshiftError as err:
        raise VoiceImportError(f"{path.name}: {err}") from err
    kind = str(model_file.kind)
    if kind == "rvc_training":
        raise VoiceImportError(
            f"{path.name} is an RVC training checkpoint (G_/D_ file); import the small inference "
            "model that training exports (e.g. from the weights/ folder) instead"
        )
    if kind not in ("rvc", "llvc", "hubert", "rmvpe"):
        raise VoiceImportError(f"{path.name} is a {kind} file, not a voice (expected RVC or LLVC)")
    return _Detected(kind, _display_details(model_file))


def _display_details(model_file: Any) -> dict[str, str]:
    """Short display facts from a ModelFile (version, rate, f0), whatever shape its details have."""
    raw: dict[str, Any] = {}
    details = getattr(model_file, "details", None)
    if isinstance(details, dict):
        raw.update(details)
    for name in ("version", "sample_rate", "sr", "f0", "if_f0"):
        if hasattr(model_file, name):
            raw.setdefault(name, getattr(model_file, name))
    out: dict[str, str] = {}
    if raw.get("version") is not None:
        out["version"] = str(raw["version"])
    rate = raw.get("sample_rate", raw.get("sr"))
    if isinstance(rate, int | float) or (isinstance(rate, str) and rate.isdigit()):
        out["rate"] = f"{int(rate) // 1000} kHz"
    elif isinstance(rate, str) and rate:
        out["rate"] = rate.replace("k", " kHz")
    f0 = raw.get("f0", raw.get("if_f0"))
    if f0 is not None:
        out["f0"] = "yes" if bool(f0) and str(f0) not in ("0", "False", "no") else "no"
    return out


def _atomic_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.part")
    try:
        shutil.copy2(source, tmp)
        tmp.replace(target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise VoiceImportError(f"could not copy {source.name} to {target.parent}: {err}") from err
