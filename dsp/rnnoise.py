"""RNNoise (Xiph's recurrent-network noise suppressor) through ctypes, one 10 ms frame at a time.

The library and its trained weights come from the ``pyrnnoise`` wheel (``librnnoise.so``,
``librnnoise.dylib`` or ``rnnoise.dll`` inside its package folder). Only that file is loaded:
the package's own ``__init__`` imports its file-conversion front end (audiolab, which pulls in
FFmpeg, matplotlib and click), which Voxshift does not need, so the wheel is installed without
its dependencies (``scripts/setup.sh``) and the package is never imported.

RNNoise works on 480-sample frames at 48 kHz, on samples scaled to 16-bit range. Measured on
speech (``tests/dsp/test_rnnoise.py``), its output is its input delayed by :data:`DELAY` =
960 samples (20 ms: the frame, and the frame of look-ahead its analysis window spans).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

RATE = 48000
FRAME = 480
DELAY = 2 * FRAME
"""Samples at 48 kHz from a frame's input to the output that carries it (measured)."""
SCALE = 32768.0

_lock = threading.Lock()
_lib: Any = None
_reason: str | None = None


class RNNoiseUnavailableError(RuntimeError):
    """The RNNoise library could not be found or loaded (the reason is the message)."""


def library_path() -> Path:
    """Where the ``pyrnnoise`` wheel keeps the library, without importing the package."""
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise RNNoiseUnavailableError(
            "noise suppression needs the pyrnnoise package (pip install --no-deps pyrnnoise)"
        )
    name = (
        "rnnoise.dll"
        if sys.platform == "win32"
        else "librnnoise.dylib"
        if sys.platform == "darwin"
        else "librnnoise.so"
    )
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.exists():
        raise RNNoiseUnavailableError(f"the pyrnnoise package has no {name}")
    return path


def library() -> Any:
    """The loaded library with its prototypes; raises :class:`RNNoiseUnavailableError`."""
    global _lib, _reason
    with _lock:
        if _lib is None and _reason is None:
            try:
                lib = ctypes.CDLL(os.fspath(library_path()))
            except (RNNoiseUnavailableError, OSError) as exc:
                _reason = str(exc)
            else:
                pointer = ctypes.POINTER(ctypes.c_float)
                lib.rnnoise_create.restype = ctypes.c_void_p
                lib.rnnoise_create.argtypes = [ctypes.c_void_p]
                lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
                lib.rnnoise_process_frame.restype = ctypes.c_float
                lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, pointer, pointer]
                lib.rnnoise_get_frame_size.restype = ctypes.c_int
                if lib.rnnoise_get_frame_size() != FRAME:
                    _reason = (
                        f"this RNNoise works on {lib.rnnoise_get_frame_size()}-sample frames, not {FRAME}"
                    )
                else:
                    _lib = lib
        if _lib is None:
            raise RNNoiseUnavailableError(_reason or "RNNoise could not be loaded")
        return _lib


def unavailable_reason() -> str | None:
    """Why noise suppression cannot run here, or None when it can."""
    try:
        library()
    except RNNoiseUnavailableError as exc:
        return str(exc)
    return None


class RNNoise:
    """One RNNoise state: ``process(frame[480]) -> (denoised[480], speech probability)``.

    Frames are float32 in [-1, 1] at 48 kHz; the state carries over from frame to frame, so a
    stream is the concatenation of its frames' outputs.
    """

    def __init__(self) -> None:
        self._lib = library()
        self._state = self._lib.rnnoise_create(None)
        if not self._state:
            raise RNNoiseUnavailableError("RNNoise could not allocate its state")
        self._in = np.zeros(FRAME, dtype=np.float32)
        self._out = np.zeros(FRAME, dtype=np.float32)
        pointer = ctypes.POINTER(ctypes.c_float)
        self._in_ptr = self._in.ctypes.data_as(pointer)
        self._out_ptr = self._out.ctypes.data_as(pointer)

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        np.multiply(frame, SCALE, out=self._in)
        probability = float(self._lib.rnnoise_process_frame(self._state, self._out_ptr, self._in_ptr))
        return self._out / SCALE, probability

    def close(self) -> None:
        state, self._state = self._state, None
        if state:
            self._lib.rnnoise_destroy(state)

    def __del__(self) -> None:
        self.close()
