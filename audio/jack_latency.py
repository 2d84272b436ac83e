"""What JACK says the latency of our own ports is, across the connections they actually have.

Why not PortAudio's numbers: on JACK, PortAudio computes its stream latency and its callback
timestamps from the latency of the *default* device ports (``system:capture_1`` and
``system:playback_1``), looked up when the stream opens. Those are right only while the stream is
wired to them. A user who routes Voxshift through a patchbay, PipeWire's graph or another
client (a DAW, OBS, a test harness) gets the system ports' latency instead of the real path's:
with JACK's dummy driver that is ``period`` for capture plus ``2 * period`` for playback, two
periods more than a client wired straight into Voxshift (whose own output reaches it one cycle
later). JACK itself propagates latency along every connection (``jack_port_get_latency_range``):
the capture latency of our input port is what happened upstream of it, the playback latency of
our output port what happens downstream. That is what this module reads, through libjack with
ctypes (the JACK-Client package has no latency API).

    ports = JackPorts.open()                 # None without libjack or a server
    before = ports.client_ports()            # PortAudio's ports before our stream opens
    ...open the stream...
    mine = ports.client_ports() - before     # our stream's ports
    ports.capture_latency("PortAudio:in_0"), ports.playback_latency("PortAudio:out_0")  # frames
    ports.close()

Every call is cheap (the port table is shared memory) and none is made from the audio callback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any

JACK_NO_START_SERVER = 0x01
JACK_CAPTURE_LATENCY, JACK_PLAYBACK_LATENCY = 0, 1


class LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


LATENCY_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)
SHUTDOWN_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

_lib: Any = None
_lib_lock = threading.Lock()


def libjack() -> Any:
    """libjack through ctypes with the prototypes used here; None where it is not installed."""
    global _lib
    with _lib_lock:
        if _lib is None:
            name = ctypes.util.find_library("jack")
            if name is None:
                _lib = False
                return None
            try:
                lib = ctypes.CDLL(name)
            except OSError:
                _lib = False
                return None
            c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
            lib.jack_client_open.restype = c_void_p
            lib.jack_client_open.argtypes = [c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
            lib.jack_client_close.argtypes = [c_void_p]
            lib.jack_port_by_name.restype = c_void_p
            lib.jack_port_by_name.argtypes = [c_void_p, c_char_p]
            lib.jack_port_get_latency_range.argtypes = [c_void_p, ctypes.c_int, ctypes.POINTER(LatencyRange)]
            lib.jack_port_set_latency_range.argtypes = [c_void_p, ctypes.c_int, ctypes.POINTER(LatencyRange)]
            lib.jack_set_latency_callback.argtypes = [c_void_p, LATENCY_CALLBACK, c_void_p]
            lib.jack_on_shutdown.argtypes = [c_void_p, SHUTDOWN_CALLBACK, c_void_p]
            lib.jack_get_ports.restype = ctypes.POINTER(c_char_p)
            lib.jack_get_ports.argtypes = [c_void_p, c_char_p, c_char_p, ctypes.c_ulong]
            lib.jack_free.argtypes = [c_void_p]
            lib.jack_recompute_total_latencies.argtypes = [c_void_p]
            lib.jack_get_buffer_size.restype = ctypes.c_uint32
            lib.jack_get_buffer_size.argtypes = [c_void_p]
            _lib = lib
        return _lib or None


def portaudio_client_name() -> str:
    """The JACK client name PortAudio registered (``PortAudio`` unless renamed); needs its JACK host API."""
    import sounddevice as sd

    lib = ctypes.CDLL(sd._libname)
    name = ctypes.c_char_p()
    if lib.PaJack_GetClientName(ctypes.byref(name)) != 0 or not name.value:
        return "PortAudio"
    return name.value.decode()


def latency_range(port: Any, mode: int) -> tuple[int, int]:
    """``jack_port_get_latency_range`` of a ``jack_port_t *`` (frames)."""
    lib = libjack()
    r = LatencyRange()
    lib.jack_port_get_latency_range(port, mode, ctypes.byref(r))
    return int(r.min), int(r.max)


class JackPorts:
    """A query-only JACK client (never activated) that reads the latency of named ports."""

    def __init__(self, lib: Any, client: int, pa_client: str) -> None:
        self._lib = lib
        self._client: int | None = client
        self.pa_client = pa_client
        self.server_gone = False
        self._on_shutdown = SHUTDOWN_CALLBACK(self._shutdown)  # kept alive with the client
        lib.jack_on_shutdown(client, self._on_shutdown, None)

    @classmethod
    def open(cls, pa_client: str | None = None) -> JackPorts | None:
        """Connect to the running JACK server (``JACK_DEFAULT_SERVER``); None where that fails."""
        lib = libjack()
        if lib is None:
            return None
        status = ctypes.c_int(0)
        client = lib.jack_client_open(b"voxshift-latency", JACK_NO_START_SERVER, ctypes.byref(status))
        if not client:
            return None
        return cls(lib, client, pa_client or portaudio_client_name())

    def _shutdown(self, arg: Any) -> None:
        self.server_gone = True

    @property
    def usable(self) -> bool:
        return self._client is not None and not self.server_gone

    def client_ports(self) -> set[str]:
        """Every port of PortAudio's JACK client (``client:in_N``, ``client:out_N``)."""
        if not self.usable:
            return set()
        pattern = f"^{_regex_escape(self.pa_client)}:".encode()
        names = self._lib.jack_get_ports(self._client, pattern, None, 0)
        if not names:
            return set()
        try:
            found = set()
            i = 0
            while names[i]:
                found.add(names[i].decode())
                i += 1
            return found
        finally:
            self._lib.jack_free(ctypes.cast(names, ctypes.c_void_p))

    def _range(self, port_name: str, mode: int) -> tuple[int, int] | None:
        if not self.usable:
            return None
        port = self._lib.jack_port_by_name(self._client, port_name.encode())
        if not port:
            return None
        return latency_range(port, mode)

    def capture_latency(self, port_name: str) -> int | None:
        """Frames from the sound reaching the world to it reaching this input port (the largest path)."""
        r = self._range(port_name, JACK_CAPTURE_LATENCY)
        return None if r is None else r[1]

    def playback_latency(self, port_name: str) -> int | None:
        """Frames from this output port to the world hearing it (the largest path)."""
        r = self._range(port_name, JACK_PLAYBACK_LATENCY)
        return None if r is None else r[1]

    def buffer_size(self) -> int:
        """JACK's current period in frames (0 if unknown)."""
        if not self.usable:
            return 0
        return int(self._lib.jack_get_buffer_size(self._client))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and not self.server_gone:
            self._lib.jack_client_close(client)


def _regex_escape(text: str) -> str:
    """``re.escape`` for JACK's POSIX extended regular expressions."""
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\\" else ch for ch in text)
