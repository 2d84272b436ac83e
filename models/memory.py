"""Loading weights with one copy in memory, and handing freed memory back to the OS.

A plain ``net = Net(); net.load_state_dict(sd)`` holds three copies of every weight for a
moment: the random initialisation, the loaded file and the converted state dict. For HuBERT
base + RMVPE + an RVC voice that was ~900 MB of peak memory for nothing. Here a network is
built on the ``meta`` device (shapes only, no storage, no random init) and the loaded tensors
are *assigned* as its parameters (``load_state_dict(assign=True)``), so each weight exists once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from collections.abc import Callable, Mapping
from functools import cache
from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def build_on_meta(factory: Callable[[], M]) -> M:
    """``factory()`` with every parameter and buffer on the ``meta`` device (no memory used)."""
    with torch.device("meta"):
        return factory()


def load_assigned(module: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Strictly load ``state`` into a module built by :func:`build_on_meta`, taking the tensors
    as they are (no copy). Raises ``RuntimeError`` like ``load_state_dict`` on a mismatch, and
    when a tensor the state dict does not provide (a non-persistent buffer) is left on ``meta``.

    The tensors keep their dtype: convert the state dict first if the module must run in
    another one. Parameters come out with ``requires_grad=False`` (inference).
    """
    module.load_state_dict(dict(state), strict=True, assign=True)
    left = [n for n, t in (*module.named_parameters(), *module.named_buffers()) if t.is_meta]
    if left:
        raise RuntimeError(f"tensors not provided by the state dict: {', '.join(left[:5])}")
    for p in module.parameters():
        p.requires_grad_(False)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # musl and other libcs have no malloc_trim
        return None
    return trim


def release_memory() -> None:
    """Collect garbage and return freed heap pages to the OS (glibc keeps them otherwise, so the
    process's resident size would stay at its peak after a large load or conversion)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def tune_for_file_conversion(primitive_cache: int = 64, mmap_threshold: int = 1 << 20) -> None:
    """Settings for a process that converts files (``voxshift convert``), where every segment has
    a different length. Call before the first inference.

    * oneDNN caches a compiled primitive (with its scratch memory) for every convolution shape it
      sees, up to 1024 of them: over a long file that grew the process by ~35 MB per segment.
      A small cache holds one model's layers; shapes that come back (realtime blocks) don't need
      more. Set only if the user has not set ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``.
    * glibc raises its mmap threshold after large frees, so later large tensors come from the
      heap and their pages are kept after ``free``; a fixed threshold returns every block of
      ``mmap_threshold`` bytes or more to the OS when freed.
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(primitive_cache))
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))
    except (OSError, AttributeError):  # not glibc
        pass
