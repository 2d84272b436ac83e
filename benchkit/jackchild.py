"""The harness's JACK client, run in a child process of its own (see ``JackHarness`` in jackbench.py).

Why a process: the harness's process callback is Python (JACK-Client calls it through cffi), so in
the test process it would need the GIL every period, competing with the engine's PortAudio callback,
the engine's worker thread and any CPU-loading thread. In its own process it has a GIL of its own.

This module imports only ``jack``, ``numpy`` and ``audio.jack_latency`` (ctypes; no PortAudio, no
torch): a spawned child imports it to run :func:`serve`.

The harness is the app's device here, so it tells JACK its latency as a driver does (a latency
callback): its output port has no capture latency (the app reads what it wrote in the same
cycle), its input ports a playback latency of one period (in the loop harness -> app -> harness,
JACK runs the harness first, so it records the app's output one cycle later; a passthrough client
comes back exactly one period late). The app then reads the real path's latency from JACK.

The parent sends commands as tuples over a pipe and gets ``("ok", value)`` or ``("err", message)``
back; the signal to play and the recording live in shared memory blocks that the parent creates
for each ``play`` and unlinks afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import signal
import threading
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import jack
import numpy as np

from audio import jack_latency as jl


def _address(cdata: Any) -> int:
    """The address of a JACK-Client cffi pointer, for libjack through ctypes."""
    return int(jack._ffi.cast("uintptr_t", cdata))


class ChildClient:
    """Owns the ``jack.Client``: its ports, process and xrun callbacks, and the play/record state."""

    def __init__(self, server_name: str, n_inputs: int, name: str) -> None:
        self.client = jack.Client(name, servername=server_name, no_start_server=True)
        self.outport = self.client.outports.register("out")
        self.inports = [self.client.inports.register(f"in_{i}") for i in range(n_inputs)]
        self.xruns = 0
        self._play = np.zeros(0, dtype=np.float32)
        self._rec = np.zeros((n_inputs, 0), dtype=np.float32)
        self._pos = 0
        self._armed = False
        self._done = threading.Event()
        self._seen_xruns = 0
        self._last_time: int | None = None
        self._blocksize_changed = False
        self.disturbances: list[int] = []
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._on_xrun)
        self._latency_cb = jl.LATENCY_CALLBACK(self._on_latency)  # kept alive with the client
        jl.libjack().jack_set_latency_callback(_address(self.client._ptr), self._latency_cb, None)
        self.client.set_blocksize_callback(self._on_blocksize)
        self._active = False
        self.client.activate()
        self._active = True

    def _on_blocksize(self, blocksize: int) -> None:
        """A new period changes our declared latency: have JACK recompute it along the graph (as a
        driver's own ports are updated), from a helper thread (not JACK's).

        JACK itself passes one period of silence along a connection when its buffer size changes
        (a plain passthrough client shows it too): the change counts as a host disturbance.
        """
        if not self._active:  # JACK calls it during activate() too; asking JACK then deadlocks it
            return
        self._blocksize_changed = True
        client = _address(self.client._ptr)
        threading.Thread(
            target=jl.libjack().jack_recompute_total_latencies, args=(client,), daemon=True
        ).start()

    def _on_latency(self, mode: int, arg: Any) -> None:
        """JACK asks for our ports' latency (after every graph or buffer size change)."""
        lib = jl.libjack()
        if mode == jl.JACK_CAPTURE_LATENCY:
            zero = jl.LatencyRange(0, 0)
            lib.jack_port_set_latency_range(_address(self.outport._ptr), mode, ctypes.byref(zero))
        else:
            period = int(lib.jack_get_buffer_size(_address(self.client._ptr)))
            one = jl.LatencyRange(period, period)
            for port in self.inports:
                lib.jack_port_set_latency_range(_address(port._ptr), mode, ctypes.byref(one))

    def close(self) -> None:
        try:
            self.client.deactivate()
            self.client.close()
        except jack.JackError:
            pass

    def _on_xrun(self, delay: float) -> None:
        self.xruns += 1

    def _process(self, frames: int) -> None:
        out = self.outport.get_array()
        if not self._armed:
            out.fill(0.0)
            return
        pos, n = self._pos, len(self._play)
        self._note_disturbance(pos, frames)
        k = max(0, min(frames, n - pos))
        out[:k] = self._play[pos : pos + k]
        out[k:] = 0.0
        for i, port in enumerate(self.inports):
            self._rec[i, pos : pos + k] = port.get_array()[:k]
        self._pos = pos + frames
        if self._pos >= n:
            self._armed = False
            self._done.set()

    def _note_disturbance(self, pos: int, frames: int) -> None:
        """Remember the recording position of a cycle after an xrun, a gap in JACK's frame clock or
        a change of the buffer size.

        The xrun callback runs in JACK's notification thread, so an xrun shows up here at the next
        cycle or a few later; the checks (``jackbench.disturbed_windows``) leave a margin for that.
        """
        now = self.client.last_frame_time
        gap = self._last_time is not None and now - self._last_time != frames
        self._last_time = now
        if self.xruns != self._seen_xruns or gap or self._blocksize_changed:
            self._seen_xruns = self.xruns
            self._blocksize_changed = False
            self.disturbances.append(pos)

    # -- commands -----------------------------------------------------------------------------
    def ports(self, pattern: str) -> list[str]:
        return [p.name for p in self.client.get_ports(pattern, is_audio=True)]

    def connect_ports(self, app_inputs: list[str], app_outputs: list[str]) -> None:
        for port in self.inports:
            for other in self.client.get_all_connections(port):
                self.client.disconnect(other, port)
        for name in app_inputs:
            for other in self.client.get_all_connections(name):
                with contextlib.suppress(jack.JackError):
                    self.client.disconnect(other, name)
            self.client.connect(self.outport, name)
        for name, port in zip(app_outputs, self.inports, strict=False):
            self.client.connect(name, port)
        self._unplug_from_driver({name.split(":", 1)[0] for name in [*app_inputs, *app_outputs]})

    def _unplug_from_driver(self, clients: set[str]) -> None:
        """Remove the app's connections to the dummy driver's ``system`` ports: the harness is its only peer.

        On this small VM a client whose output feeds ``system:playback`` (PortAudio connects
        there by default) now and then makes the dummy driver report an xrun, even the C client
        ``jack_thru`` (2 of 6 runs of 20 s), while the same graph without that connection ran
        clean (7 of 7). The app's callback still runs every period, and the harness, which
        records it, still sees every period it misses.
        """
        for port in self.client.get_ports(is_audio=True):
            if port.name.split(":", 1)[0] not in clients:
                continue
            for other in self.client.get_all_connections(port):
                if not other.name.startswith("system:"):
                    continue
                with contextlib.suppress(jack.JackError):
                    if port.is_output:
                        self.client.disconnect(port, other)
                    else:
                        self.client.disconnect(other, port)

    def connections(self) -> list[tuple[str, str]]:
        pairs = [(self.outport.name, p.name) for p in self.client.get_all_connections(self.outport)]
        for port in self.inports:
            pairs += [(p.name, port.name) for p in self.client.get_all_connections(port)]
        return pairs

    def restore(self, pairs: list[tuple[str, str]]) -> None:
        for port in [self.outport, *self.inports]:
            for other in self.client.get_all_connections(port):
                try:
                    if port is self.outport:
                        self.client.disconnect(port, other)
                    else:
                        self.client.disconnect(other, port)
                except jack.JackError:
                    pass
        for src, dst in pairs:
            with contextlib.suppress(jack.JackError):
                self.client.connect(src, dst)

    def play(self, play_name: str, rec_name: str, n: int, timeout: float) -> tuple[bool, list[int]]:
        """Play the shared block ``play_name`` (``[n]``), record into ``rec_name`` (``[n_inputs, n]``).

        Returns whether it finished and the recording positions of the cycles that followed an
        xrun or a jump of JACK's frame clock.
        """
        play_shm, rec_shm = SharedMemory(play_name), SharedMemory(rec_name)
        try:
            self._play = np.ndarray((n,), dtype=np.float32, buffer=play_shm.buf)
            self._rec = np.ndarray((len(self.inports), n), dtype=np.float32, buffer=rec_shm.buf)
            self._pos = 0
            self._seen_xruns = self.xruns
            self._last_time = None
            self.disturbances = []
            self._done.clear()
            self._armed = True
            finished = self._done.wait(timeout=timeout)
            self._armed = False
            return finished, list(self.disturbances)
        finally:
            self._play = np.zeros(0, dtype=np.float32)
            self._rec = np.zeros((len(self.inports), 0), dtype=np.float32)
            play_shm.close()
            rec_shm.close()


def serve(conn: Connection, server_name: str, n_inputs: int, name: str) -> None:
    """Child main: open the client, answer ``("ready", None)``, then serve commands until ``close``/EOF.

    SIGUSR1 prints every thread's stack (the parent sends it when the child stops answering).
    """
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        child = ChildClient(server_name, n_inputs, name)
    except jack.JackError as exc:
        conn.send(("err", f"JACK client '{name}' could not open on '{server_name}': {exc}"))
        return
    conn.send(("ok", None))
    try:
        while True:
            try:
                cmd, *args = conn.recv()
            except EOFError:  # the parent is gone
                return
            if cmd == "close":
                conn.send(("ok", None))
                return
            conn.send(_dispatch(child, cmd, args))
    finally:
        child.close()


def _dispatch(child: ChildClient, cmd: str, args: list[Any]) -> tuple[str, Any]:
    try:
        if cmd == "xruns":
            return "ok", child.xruns
        if cmd == "ports":
            return "ok", child.ports(*args)
        if cmd == "connect_ports":
            return "ok", child.connect_ports(*args)
        if cmd == "connections":
            return "ok", child.connections()
        if cmd == "restore":
            return "ok", child.restore(*args)
        if cmd == "play":
            return "ok", child.play(*args)
        return "err", f"unknown harness command {cmd!r}"
    except (jack.JackError, OSError, ValueError) as exc:
        return "err", f"{cmd}: {exc}"
