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
from typing import TYPE_CHECKING, Any

from app import paths
from models.errors import VoxshiftError
from models.kinds import ModelKind, VoiceKind

if TYPE_CHECKING:
    from models.checkpoint import ModelFile  # imports torch: only where a file is detected

log = logging.getLogger(__name__)

CARD_FILE = "voice.json"
MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


class VoiceImportError(VoxshiftError):
    """A dropped file is not a voice Voxshift can use (the message says which and why)."""


@dataclass(frozen=True)
class SharedFile:
    """A model file all RVC voices share, and where a user gets it."""

    kind: ModelKind
    filename: str
    purpose: str
    source: str


SHARED_FILES = (
    SharedFile(
        ModelKind.HUBERT,
        "hubert_base.pt",
        "content encoder (HuBERT/ContentVec) for RVC voices",
        "huggingface.co/lj1995/VoiceConversionWebUI, file hubert_base.pt",
    ),
    SharedFile(
        ModelKind.RMVPE,
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
    kind: VoiceKind
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
        if self.kind is VoiceKind.RVC:
            parts = [f"RVC {self.details.get('version', '')}".strip()]
            if "rate" in self.details:
                parts.append(self.details["rate"])
            if self.details.get("f0") in ("yes", "no"):
                parts.append("f0" if self.details["f0"] == "yes" else "no f0")
            return " · ".join(parts)
        if self.kind is VoiceKind.LLVC:
            return "LLVC"
        return "Built-in"

    @property
    def badge(self) -> str:
        """The card badge's style key: "rvc", "llvc" or "builtin"."""
        return self.kind.value if self.kind in (VoiceKind.RVC, VoiceKind.LLVC) else VoiceKind.BUILTIN.value


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

    def missing_shared(self, kind: VoiceKind, details: dict[str, str]) -> tuple[SharedFile, ...]:
        """Shared files a voice of this kind needs that are not installed."""
        if kind is not VoiceKind.RVC:
            return ()
        need = [s for s in SHARED_FILES if s.kind is ModelKind.HUBERT or details.get("f0") != "no"]
        return tuple(s for s in need if not (self.shared_dir / s.filename).exists())

    def shared_path(self, kind: ModelKind) -> Path:
        spec = next(s for s in SHARED_FILES if s.kind is kind)
        return self.shared_dir / spec.filename

    def _read_card(self, card: Path) -> VoiceEntry:
        data = json.loads(card.read_text(encoding="utf-8"))
        folder = card.parent
        details = {str(k): str(v) for k, v in dict(data.get("details", {})).items()}
        kind = VoiceKind(data["kind"])

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
        card: dict[str, Any] = {"name": model.stem, "kind": detected.kind.value, "details": detected.details}
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
    kind: VoiceKind
    details: dict[str, str]


@dataclass
class _Plan:
    voices: list[tuple[Path, _Detected, dict[str, Path]]] = field(default_factory=list)
    shared: list[tuple[Path, SharedFile]] = field(default_factory=list)


VOICE_KINDS = {ModelKind.RVC: VoiceKind.RVC, ModelKind.LLVC: VoiceKind.LLVC}
"""Model files that are voices, and the kind of voice each becomes."""


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
        model_file = detect_model(model)
        shared = next((s for s in SHARED_FILES if s.kind is model_file.kind), None)
        if shared is not None:
            plan.shared.append((model, shared))
            continue
        plan.voices.append((model, _Detected(VOICE_KINDS[model_file.kind], card_details(model_file)), {}))
    if not plan.voices and not plan.shared:
        raise VoiceImportError("no model file in the drop (an .index or config.json needs its .pth)")
    _attach_extras(plan, indexes, configs)
    return plan


def _attach_extras(plan: _Plan, indexes: list[Path], configs: list[Path]) -> None:
    """Give each RVC voice its .index and each LLVC voice its config.json (by name, else the only one)."""
    for kind, extras, key in ((VoiceKind.RVC, indexes, "index"), (VoiceKind.LLVC, configs, "config")):
        targets = [v for v in plan.voices if v[1].kind is kind]
        if extras and not targets:
            raise VoiceImportError(
                f"{extras[0].name} was dropped without a matching {kind.value.upper()} model"
            )
        for model, _, attached in targets:
            match = _best_match(model, extras)
            if match is None and kind is VoiceKind.LLVC:
                sibling = model.parent / "config.json"
                match = sibling if sibling.is_file() else None
            if match is not None:
                attached[key] = match


def _best_match(model: Path, candidates: list[Path]) -> Path | None:
    if len(candidates) == 1:
        return candidates[0]
    stem = model.stem.lower()
    return next((c for c in candidates if stem in c.stem.lower()), None)


def detect_model(path: Path) -> ModelFile:
    """What a dropped model file is, through the safe loader only; VoiceImportError unless it is
    a voice (RVC, LLVC) or a shared model file (HuBERT, RMVPE)."""
    from models.checkpoint import detect

    try:
        model_file = detect(path)
    except VoxshiftError as err:
        raise VoiceImportError(f"{path.name}: {err}") from err
    if model_file.kind is ModelKind.RVC_TRAINING:
        raise VoiceImportError(
            f"{path.name} is an RVC training checkpoint (G_/D_ file); import the small inference "
            "model that training exports (e.g. from the weights/ folder) instead"
        )
    if model_file.kind not in VOICE_KINDS and not any(s.kind is model_file.kind for s in SHARED_FILES):
        raise VoiceImportError(f"{path.name} is {model_file.description}, not a voice (expected RVC or LLVC)")
    return model_file


def card_details(model_file: ModelFile) -> dict[str, str]:
    """Short display facts of a voice file for its card: version, rate, f0."""
    out: dict[str, str] = {}
    if model_file.version is not None:
        out["version"] = model_file.version.value
    if model_file.sample_rate:
        out["rate"] = f"{model_file.sample_rate // 1000} kHz"
    if model_file.f0 is not None:
        out["f0"] = "yes" if model_file.f0 else "no"
    return out


def _atomic_copy(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.part")
    try:
        shutil.copy2(source, tmp)
        tmp.replace(target)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise VoiceImportError(f"could not copy {source.name} to {target.parent}: {err}") from err
