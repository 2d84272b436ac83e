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


def tune_for_file_conversion(primitive_cache: int = 256) -> None:
    """Settings for a process that converts files (``voxshift convert``), where every segment has
    a different length. Call before the first inference.

    oneDNN caches a compiled primitive (with its scratch memory) for every convolution shape it
    sees, up to 1024 of them: over a long file that grew the process by ~30 MB per segment.
    256 entries hold every layer of the largest pass (the synthesizer has ~130 convolutions; a
    cache smaller than that misses on every decoder window and recompiles, 2x slower) and drop
    older segments' shapes. Set only if the user has not set ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``.
    (A fixed glibc mmap threshold also bounds the heap, but made conversion 2x slower through
    page faults; :func:`release_memory` between segments does it for free.)
    """
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(primitive_cache))
