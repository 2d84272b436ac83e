"""Atomic file writes: a temp file in the same folder, fsync, then ``os.replace``.

A killed process or a full disk leaves the previous file intact (and a stray ``.tmp`` at worst).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from models.errors import VoxshiftError


class DiskFullError(VoxshiftError):
    """The disk is full: nothing was overwritten."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yields a temp path next to ``path``; on success it replaces ``path`` atomically.

    ``suffix`` keeps an extension for writers that look at it (soundfile, faiss).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"disk full while writing {target}; free space and rerun to resume") from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], Any]) -> None:
    """Calls ``writer(file)`` on a temp file and moves it over ``path``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        writer(f)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))
