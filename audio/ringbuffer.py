"""A preallocated single-producer/single-consumer float32 ring buffer without locks.

One thread writes (``write``), one thread reads (``read``). Each side owns one monotonically
increasing frame counter and only reads the other's; in CPython an int attribute assignment is
atomic, so no lock is needed, and neither call allocates (copies go through ``np.copyto`` into
preallocated views). The data is stored as ``[capacity, channels]``.

Overrun (``write`` with too little room): the frames that do not fit are dropped and counted.
Underrun (``read`` with too few frames): the missing frames are zero-filled and counted. With
``keep_timeline=True`` the reader still advances by the full request, so the stream keeps its
timing: frames written later for the positions already played are discarded by the writer. That
is what keeps the engine's lag constant when a hop arrives late.

Concealment: the writer may put a short *tail* past its position (``write_tail``: e.g. a fade-out
of its last frames). A read that runs past the written frames plays the tail there instead of
zeros, so an underflow fades out instead of cutting to silence with a click. The tail is not
written data: it is replaced by the next ``write`` and never counts as read frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RingBuffer:
    """SPSC float32 ring of ``capacity`` frames with ``channels`` channels."""

    def __init__(self, capacity: int, channels: int = 1, *, keep_timeline: bool = False) -> None:
        if capacity <= 0 or channels <= 0:
            raise ValueError("capacity and channels must be positive")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self.keep_timeline = keep_timeline
        self._data = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self._written = 0  # frames ever written (owned by the writer)
        self._read = 0  # frames ever read (owned by the reader)
        self._tail = 0  # concealment frames valid past ``_written`` (owned by the writer)
        self.overruns = 0
        """Number of writes that did not fit completely."""
        self.underruns = 0
        """Number of reads that found fewer frames than requested."""
        self.dropped_frames = 0
        """Frames dropped by overruns."""
        self.missing_frames = 0
        """Frames zero-filled by underruns."""

    @property
    def available_read(self) -> int:
        """Frames ready to read."""
        return max(0, self._written - self._read)

    @property
    def available_write(self) -> int:
        """Frames that can be written without an overrun."""
        return self.capacity - max(0, self._written - self._read)

    @property
    def frames_written(self) -> int:
        """Total frames written (the writer's position on the stream's timeline)."""
        return self._written

    @property
    def frames_read(self) -> int:
        """Total frames read, including zero-filled ones when the timeline is kept."""
        return self._read

    def write(self, x: np.ndarray) -> int:
        """Append frames ``x`` (``[n]`` for mono or ``[n, channels]``); returns how many were stored.

        With ``keep_timeline``, frames for positions the reader already passed are skipped (they
        count as stored: they were simply too late to be heard).
        """
        frames = x[:, None] if x.ndim == 1 else x
        n = len(frames)
        if self._tail:
            self._tail = 0  # before the new frames replace it (the reader may be reading it)
        start = 0
        if self.keep_timeline:
            behind = self._read - self._written
            if behind > 0:
                start = min(behind, n)
        room = self.capacity - max(0, self._written + start - self._read)
        count = min(n - start, room)
        if count < n - start:
            self.overruns += 1
            self.dropped_frames += n - start - count
        self._copy_in(frames[start : start + count], (self._written + start) % self.capacity)
        self._written += start + count
        return start + count

    def read(self, out: np.ndarray) -> int:
        """Fill ``out`` (``[n]`` or ``[n, channels]``) with the oldest frames; returns how many were real.

        Missing frames are counted as an underrun and filled with the writer's concealment tail
        (see ``write_tail``), then zeros.
        """
        frames = out[:, None] if out.ndim == 1 else out
        n = len(frames)
        read, written = self._read, self._written
        tail = self._tail
        count = min(n, max(0, written - read))
        copy = min(n, max(0, written + tail - read))
        self._copy_out(frames[:copy], read % self.capacity)
        if copy < n:
            frames[copy:] = 0.0
        if count < n:
            self.underruns += 1
            self.missing_frames += n - count
            self._read = read + (n if self.keep_timeline else count)
        else:
            self._read = read + count
        return count

    def write_tail(self, x: np.ndarray) -> int:
        """Put ``x`` just past the written frames as concealment for an underflow; returns its length.

        Only the free part of the ring is used; the next ``write`` replaces the tail.
        """
        frames = x[:, None] if x.ndim == 1 else x
        self._tail = 0
        used = max(0, self._written - self._read)
        n = min(len(frames), self.capacity - used)
        self._copy_in(frames[:n], self._written % self.capacity)
        self._tail = n
        return n

    def _copy_in(self, src: np.ndarray, pos: int) -> None:
        first = min(len(src), self.capacity - pos)
        np.copyto(self._data[pos : pos + first], src[:first])
        if first < len(src):
            np.copyto(self._data[: len(src) - first], src[first:])

    def _copy_out(self, dst: np.ndarray, pos: int) -> None:
        first = min(len(dst), self.capacity - pos)
        np.copyto(dst[:first], self._data[pos : pos + first])
        if first < len(dst):
            np.copyto(dst[first:], self._data[: len(dst) - first])


class SharedRingBuffer(RingBuffer):
    """A :class:`RingBuffer` whose positions and counters live in one int64 array.

    The C callback (``audio/vxcallback.c``) is the other side of such a ring: it gets pointers to
    ``_data`` and ``idx`` and follows the same protocol. ``idx`` holds written, read, overruns,
    underruns, dropped and missing frames and the concealment tail; each side updates only its own
    entries. A position is published with a release store after the samples it covers
    (``publish``: the C library's ``vx_store_release``) and read with an acquire load (``acquire``:
    ``vx_load_acquire``), so the samples are seen before the position that covers them also on
    weakly ordered CPUs (ARM: Apple Silicon, Windows on ARM). Without a library both are plain
    numpy stores and loads.
    """

    FIELDS = ("_written", "_read", "overruns", "underruns", "dropped_frames", "missing_frames", "_tail")

    def __init__(
        self,
        capacity: int,
        channels: int = 1,
        *,
        keep_timeline: bool = False,
        publish: Any = None,
        acquire: Any = None,
    ) -> None:
        self.idx = np.zeros(len(self.FIELDS), dtype=np.int64)
        self._publish: Any = publish
        self._acquire: Any = acquire
        self._idx_ptr = self.idx.ctypes.data
        super().__init__(capacity, channels, keep_timeline=keep_timeline)

    def _set_position(self, slot: int, value: int) -> None:
        if self._publish is not None:
            self._publish(slot, value)
        else:
            self.idx[slot] = value

    def _get_position(self, slot: int) -> int:
        if self._acquire is not None:
            return int(self._acquire(slot))
        return int(self.idx[slot])


def _position(slot: int) -> property:
    def get(self: SharedRingBuffer) -> int:
        return self._get_position(slot)

    def put(self: SharedRingBuffer, value: int) -> None:
        self._set_position(slot, value)

    return property(get, put)


def _counter(slot: int) -> property:
    def get(self: SharedRingBuffer) -> int:
        return int(self.idx[slot])

    def put(self: SharedRingBuffer, value: int) -> None:
        self.idx[slot] = value

    return property(get, put)


SharedRingBuffer._written = _position(0)  # type: ignore[assignment]
SharedRingBuffer._read = _position(1)  # type: ignore[assignment]
SharedRingBuffer._tail = _position(6)  # type: ignore[assignment]
for _slot, _name in enumerate(SharedRingBuffer.FIELDS[2:6], start=2):
    setattr(SharedRingBuffer, _name, _counter(_slot))
