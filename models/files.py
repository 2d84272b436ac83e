"""Shared model files (HuBERT/ContentVec ``hubert_base.pt``, ``rmvpe.pt``): where they live,
whether they are installed, and an optional verified, resumable download.

Lookup order for a file: an explicit path given by the caller, then its environment variable
(``VOXSHIFT_HUBERT``, ``VOXSHIFT_RMVPE``), then the models folder: ``VOXSHIFT_MODELS_DIR`` or
the user's data dir (platformdirs), e.g. ``~/.local/share/voxshift/models`` on Linux.

Nothing is ever downloaded implicitly; :func:`download` runs only when the user asks
(``voxshift models --download``). huggingface_hub resolves the file's URL (``HF_ENDPOINT`` or
``endpoint=`` selects the server); the transfer resumes partial data with HTTP Range requests
(also across runs and after a cancel), reports progress, checks SHA-256, and moves the file
into place only once it is verified.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from models.errors import VoxshiftError
from models.kinds import ModelKind

SOURCE_REPO = "lj1995/VoiceConversionWebUI"
SOURCE_URL = f"https://huggingface.co/{SOURCE_REPO}"


class ModelFileMissingError(VoxshiftError):
    """A shared model file is not installed."""


class DownloadError(VoxshiftError):
    """A download failed, was cancelled, or delivered the wrong bytes."""


@dataclass(frozen=True)
class SharedFile:
    """A well-known file that several voices need."""

    name: str
    """File name in the models folder, e.g. "hubert_base.pt"."""
    kind: ModelKind
    purpose: str
    env: str
    """Environment variable holding an explicit path."""
    sha256: str
    size: int
    repo_id: str = SOURCE_REPO
    filename: str = ""
    """Path inside the repository (defaults to ``name``)."""
    revision: str = "main"

    @property
    def repo_filename(self) -> str:
        return self.filename or self.name

    @property
    def source(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/blob/{self.revision}/{self.repo_filename}"


HUBERT = SharedFile(
    name="hubert_base.pt",
    kind=ModelKind.HUBERT,
    purpose="content encoder (ContentVec in HuBERT-base format) for every RVC voice",
    env="VOXSHIFT_HUBERT",
    sha256="f54b40fd2802423a5643779c4861af1e9ee9c1564dc9d32f54f20b5ffba7db96",
    size=189_507_909,
)
RMVPE = SharedFile(
    name="rmvpe.pt",
    kind=ModelKind.RMVPE,
    purpose="RMVPE pitch tracker (the default f0 method of RVC)",
    env="VOXSHIFT_RMVPE",
    sha256="6d62215f4306e3ca278246188607209f09af3dc77ed4232efdd069798c4ec193",
    size=181_184_272,
)
SHARED_FILES: tuple[SharedFile, ...] = (HUBERT, RMVPE)


def spec(name: str | SharedFile) -> SharedFile:
    """The :class:`SharedFile` called ``name`` ("hubert_base.pt", "hubert", "rmvpe", ...)."""
    if isinstance(name, SharedFile):
        return name
    for f in SHARED_FILES:
        if name in (f.name, f.kind.value, Path(f.name).stem):
            return f
    known = ", ".join(f.name for f in SHARED_FILES)
    raise ModelFileMissingError(f"unknown shared model file {name!r}; known: {known}")


def models_dir() -> Path:
    """The folder for shared model files (not created here)."""
    env = os.environ.get("VOXSHIFT_MODELS_DIR")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("voxshift", appauthor=False) / "models"


@dataclass(frozen=True)
class FileStatus:
    """Where a shared file was looked for and what was found."""

    file: SharedFile
    path: Path
    """The file that is used, or where it should go when missing."""
    origin: str
    """"explicit", "environment ($VAR)" or "models folder"."""
    present: bool
    size: int | None = None
    verified: bool | None = None
    """SHA-256 matched (True/False), or not checked (None)."""

    @property
    def size_ok(self) -> bool:
        return self.size == self.file.size


def locate(
    name: str | SharedFile, explicit: str | Path | None = None, folder: Path | None = None
) -> FileStatus:
    """Find a shared file: explicit path, then ``$VOXSHIFT_*``, then the models folder."""
    f = spec(name)
    if explicit is not None:
        path, origin = Path(explicit).expanduser(), "explicit"
    elif os.environ.get(f.env):
        path, origin = Path(os.environ[f.env]).expanduser(), f"environment (${f.env})"
    else:
        path, origin = (folder or models_dir()) / f.name, "models folder"
    present = path.is_file()
    return FileStatus(f, path, origin, present, path.stat().st_size if present else None)


def require(name: str | SharedFile, explicit: str | Path | None = None) -> Path:
    """The path of an installed shared file, or a message that says how to get it."""
    st = locate(name, explicit)
    if not st.present:
        f = st.file
        raise ModelFileMissingError(
            f"{f.name} ({f.purpose}) not found at {st.path}; download it with "
            f"`voxshift models --download {f.name}` or from {f.source}, or set ${f.env} to its path"
        )
    return st.path


def sha256_file(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    """SHA-256 of a file, read in 4 MiB blocks (bounded memory)."""
    h = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with open(path, "rb") as fh:
        while block := fh.read(4 << 20):
            h.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return h.hexdigest()


def status(folder: Path | None = None, verify: bool = False) -> list[FileStatus]:
    """Status of every shared file; ``verify`` also hashes the present ones (slow: ~370 MB)."""
    out = []
    for f in SHARED_FILES:
        st = locate(f, folder=folder)
        if verify and st.present:
            st = FileStatus(f, st.path, st.origin, True, st.size, sha256_file(st.path) == f.sha256)
        out.append(st)
    return out


def download(
    name: str | SharedFile,
    folder: Path | None = None,
    *,
    endpoint: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> Path:
    """Download a shared file into ``folder`` (default :func:`models_dir`), verified.

    Partial data stays in ``folder/.partial`` so an interrupted or cancelled download resumes
    where it stopped. The file is moved into place only after its SHA-256 matched.

    Args:
        endpoint: Hub server (default ``$HF_ENDPOINT`` or huggingface.co).
        progress: called with (bytes done, bytes total); replaces the tqdm bar.
        cancel: set it to stop; the partial file is kept for resuming.
        force: download again even if a verified file is present.

    Raises:
        DownloadError: network failure, cancellation, or a checksum mismatch (the bad file is
            deleted; an existing installed file is never touched).
    """
    f = spec(name)
    dest = folder or models_dir()
    final = dest / f.name
    if final.is_file() and not force and sha256_file(final) == f.sha256:
        return final
    staged = _fetch(f, dest / ".partial", endpoint, progress, cancel)
    digest = sha256_file(staged)
    if digest != f.sha256:
        staged.unlink(missing_ok=True)
        raise DownloadError(
            f"{f.name} from {endpoint or os.environ.get('HF_ENDPOINT') or 'huggingface.co'} has SHA-256 "
            f"{digest[:16]}..., expected {f.sha256[:16]}...; the download was deleted"
        )
    os.replace(staged, final)
    return final


def _url(f: SharedFile, endpoint: str | None) -> str:
    """The Hub ``resolve`` URL of a file (huggingface_hub's own rule; same format without it)."""
    try:
        from huggingface_hub import hf_hub_url
    except ImportError:  # a declared dependency; keep downloads working in a partial install
        base = (endpoint or "https://huggingface.co").rstrip("/")
        path = urllib.parse.quote(f.repo_filename)
        return f"{base}/{f.repo_id}/resolve/{urllib.parse.quote(f.revision, safe='')}/{path}"
    return str(hf_hub_url(f.repo_id, f.repo_filename, revision=f.revision, endpoint=endpoint))


def _fetch(
    f: SharedFile,
    staging: Path,
    endpoint: str | None,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
    retries: int = 3,
) -> Path:
    """Download into ``staging/<name>.part``, resuming what an earlier attempt left there."""
    staging.mkdir(parents=True, exist_ok=True)
    part = staging / f"{f.name}.part"
    url = _url(f, endpoint or os.environ.get("HF_ENDPOINT") or None)
    for attempt in range(retries + 1):
        try:
            _fetch_once(url, part, f.size, progress, cancel)
            return part
        except (OSError, http.client.HTTPException) as exc:
            if attempt == retries or isinstance(exc, urllib.error.HTTPError):
                have = part.stat().st_size if part.exists() else 0
                raise DownloadError(
                    f"could not download {f.name} from {url} ({type(exc).__name__}: {exc}); "
                    f"{have} bytes kept, run it again to resume"
                ) from exc
    return part


def _fetch_once(
    url: str,
    part: Path,
    expected: int,
    progress: Callable[[int, int], None] | None,
    cancel: threading.Event | None,
) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have and have == expected:
        return
    if have > expected:
        part.unlink()
        have = 0
    headers = {"User-Agent": "voxshift", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as resp:
        if have and resp.status != 206:  # the server ignored the Range: start over
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length else expected
        with open(part, "ab" if have else "wb") as out:
            done = have
            while block := resp.read(1 << 20):
                if cancel is not None and cancel.is_set():
                    raise DownloadError(f"download cancelled after {done} bytes; run it again to resume")
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if length and done != total:
            raise http.client.IncompleteRead(b"", total - done)
