"""RingBuffer: wrap-around, overrun/underrun accounting, timeline keeping, two-thread transfer."""

import threading
import time

import numpy as np

from audio.ringbuffer import RingBuffer


def test_wraps_around_and_preserves_order():
    ring = RingBuffer(10)
    out = np.zeros(4, dtype=np.float32)
    data = np.arange(100, dtype=np.float32)
    got = []
    pos = 0
    for _ in range(25):
        assert ring.write(data[pos : pos + 4]) == 4
        pos += 4
        assert ring.read(out) == 4
        got.append(out.copy())
    assert np.array_equal(np.concatenate(got), data)
    assert ring.overruns == 0 and ring.underruns == 0


def test_overrun_drops_and_counts():
    ring = RingBuffer(8)
    assert ring.write(np.ones(6, np.float32)) == 6
    assert ring.available_write == 2
    assert ring.write(np.full(5, 2.0, np.float32)) == 2
    assert ring.overruns == 1 and ring.dropped_frames == 3
    out = np.zeros(8, np.float32)
    assert ring.read(out) == 8
    assert np.array_equal(out, [1, 1, 1, 1, 1, 1, 2, 2])


def test_underrun_zero_fills_and_counts():
    ring = RingBuffer(8)
    ring.write(np.array([1, 2, 3], np.float32))
    out = np.full(5, 9.0, np.float32)
    assert ring.read(out) == 3
    assert np.array_equal(out, [1, 2, 3, 0, 0])
    assert ring.underruns == 1 and ring.missing_frames == 2
    # Without keep_timeline the next write is read next.
    ring.write(np.array([4, 5], np.float32))
    out2 = np.zeros(2, np.float32)
    ring.read(out2)
    assert np.array_equal(out2, [4, 5])


def test_keep_timeline_discards_late_frames():
    ring = RingBuffer(16, keep_timeline=True)
    ring.write(np.arange(4, dtype=np.float32))
    out = np.zeros(6, np.float32)
    assert ring.read(out) == 4  # frames 4, 5 were missing and are now "played" as zeros
    assert ring.frames_read == 6
    # Frames 4..7 arrive late: 4 and 5 are discarded, 6 and 7 are read at their place.
    assert ring.write(np.arange(4, 8, dtype=np.float32)) == 4
    out2 = np.zeros(2, np.float32)
    assert ring.read(out2) == 2
    assert np.array_equal(out2, [6, 7])


def test_multichannel_frames():
    ring = RingBuffer(5, channels=2)
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    assert ring.write(x[:3]) == 3
    out = np.zeros((2, 2), np.float32)
    ring.read(out)
    assert np.array_equal(out, x[:2])
    assert ring.write(x[3:]) == 3  # wraps
    out3 = np.zeros((4, 2), np.float32)
    assert ring.read(out3) == 4
    assert np.array_equal(out3, x[2:])


def test_two_threads_transfer_every_frame_in_order():
    ring = RingBuffer(64)
    n = 10000
    data = np.arange(n, dtype=np.float32)
    received = np.zeros(n, np.float32)

    def produce():
        pos = 0
        while pos < n:
            wrote = ring.write(data[pos : pos + 17])
            pos += wrote
            if not wrote:
                time.sleep(0)

    def consume():
        pos = 0
        buf = np.zeros(13, np.float32)
        while pos < n:
            k = min(ring.available_read, len(buf), n - pos)
            if k:
                ring.read(buf[:k])
                received[pos : pos + k] = buf[:k]
                pos += k
            else:
                time.sleep(0)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert np.array_equal(received, data)
    assert ring.underruns == 0
