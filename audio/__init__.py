"""The realtime audio engine (no Qt): devices, rings, the PortAudio stream, the worker, SOLA."""

import os
import sys


def enable_asio(environ: "os._Environ[str] | dict[str, str]", platform: str) -> bool:
    """Ask sounddevice for its ASIO-enabled PortAudio on Windows (it reads ``SD_ENABLE_ASIO`` once,
    when it is first imported: this package is imported before it). A user's own setting wins."""
    if platform != "win32":
        return False
    environ.setdefault("SD_ENABLE_ASIO", "1")
    return environ["SD_ENABLE_ASIO"] not in ("", "0")


enable_asio(os.environ, sys.platform)
