"""The C audio callback (``audio/vxcallback.c``): build once, load, and fall back cleanly.

A Python PortAudio callback has to take the GIL every period. Whenever another thread holds it
(the worker between torch calls, a CPU-heavy thread, the GUI, a garbage collection) the callback
starts late; on a small machine that is a few missed periods a minute: clicks. The C callback
never touches Python, so the audio thread keeps its deadline whatever the interpreter does.

The library is compiled at first use with the system C compiler (``$CC``, ``cc``, ``gcc`` or
``clang``) into the user's cache folder, named by a hash of the source, and loaded with cffi's
ABI mode (cffi comes with sounddevice). ``scripts/setup.sh`` builds it ahead of time and the
PyInstaller bundle ships it next to this module. Without a
compiler (typical on Windows and macOS without developer tools) :func:`load` returns ``None``
with the reason in :func:`unavailable_reason`, and the engine uses the Python callback.
``VOXSHIFT_NATIVE_CALLBACK=0`` forces the Python callback.

    .venv/bin/python -m audio.native        # build (if needed) and print where the library is
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

SOURCE = Path(__file__).with_name("vxcallback.c")
BUILD_TIMEOUT_S = 60.0

CDEF = """
typedef struct { float *data; int64_t capacity; int64_t *idx; int32_t keep_timeline; } vx_ring;
typedef struct {
    vx_ring in; vx_ring out; int32_t has_input; int32_t out_channels;
    int64_t *counts; double *times; int64_t *cycle_log; int64_t wake_frames; void *wake;
} vx_io;
double vx_now(void);
void vx_store_release(int64_t *p, int64_t v);
int64_t vx_load_acquire(int64_t *p);
void *vx_sem_new(void);
void vx_sem_free(void *s);
void vx_sem_post(void *s);
int vx_sem_wait(void *s, double timeout);
int vx_callback(const void *input, void *output, unsigned long frames, const void *t,
                unsigned long flags, void *user);
"""
CYCLE_LOG = 64
"""Entries of the callback's log of host-cycle sizes (``VX_CYCLE_LOG`` in the C source)."""


class Native:
    """The loaded library: its cffi handle, the callback pointer and the helpers."""

    def __init__(self, path: Path) -> None:
        import cffi

        self.path = path
        self.ffi = cffi.FFI()
        self.ffi.cdef(CDEF)
        self.lib: Any = self.ffi.dlopen(str(path))
        self.callback = self.lib.vx_callback

    def now(self) -> float:
        """``time.perf_counter()``'s clock, read in C (the callback stamps its calls with it)."""
        return float(self.lib.vx_now())

    def int64_ptr(self, array: np.ndarray) -> Any:
        assert array.dtype == np.int64 and array.flags.c_contiguous
        return self.ffi.cast("int64_t *", array.ctypes.data)


_lock = threading.Lock()
_native: Native | None = None
_reason: str | None = None
_tried = False


def library_path() -> Path:
    """Where the compiled library for this source, platform and Python lives."""
    from platformdirs import user_cache_dir

    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    suffix = ".dll" if sys.platform == "win32" else ".dylib" if sys.platform == "darwin" else ".so"
    tag = f"{sys.platform}-{platform.machine()}"
    base = Path(os.environ.get("VOXSHIFT_NATIVE_DIR") or Path(user_cache_dir("voxshift")) / "native")
    return base / f"vxcallback-{digest}-{tag}{suffix}"


def find_compiler() -> str | None:
    """The C compiler to use: ``$CC``, else the first of cc, gcc, clang on PATH (None if none)."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def build(path: Path | None = None) -> Path:
    """Compile the library to ``path`` (atomically); raises RuntimeError with the reason."""
    path = path or library_path()
    cc = find_compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (install gcc or clang, or set CC)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    cmd = [cc, "-O2", "-shared", "-fPIC", "-o", tmp, str(SOURCE)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{cc} failed: {(done.stderr or done.stdout).strip()[-400:]}")
        os.replace(tmp, path)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"{cc} could not build the audio callback: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load() -> Native | None:
    """The C callback library, built on first use; ``None`` (see :func:`unavailable_reason`) if not."""
    global _native, _reason, _tried
    with _lock:
        if _tried:
            return _native
        _tried = True
        if os.environ.get("VOXSHIFT_NATIVE_CALLBACK", "1").strip().lower() in ("0", "no", "off", "false"):
            _reason = "disabled by VOXSHIFT_NATIVE_CALLBACK=0"
            return None
        try:
            path = library_path()
            bundled = Path(__file__).with_name(path.name)  # shipped prebuilt (packaging/voxshift.spec)
            if bundled.exists():
                path = bundled
            elif not path.exists():
                build(path)
            _native = Native(path)
        except Exception as exc:  # any failure here only means: use the Python callback
            _reason = str(exc) or type(exc).__name__
            _native = None
        return _native


def unavailable_reason() -> str | None:
    """Why :func:`load` returned ``None`` (``None`` when the C callback is in use or untried)."""
    return _reason


def main() -> int:
    native = load()
    if native is None:
        print(f"C audio callback unavailable: {unavailable_reason()} (the Python callback will be used)")
        return 1
    print(f"C audio callback: {native.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
