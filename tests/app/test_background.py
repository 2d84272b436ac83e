"""app.background: calls run off the GUI thread, in order, and every outcome comes back by signal."""

from __future__ import annotations

import threading

from app.background import BackgroundCall, Worker
from app.gui import create_app
from models.errors import VoxshiftError


def test_worker_runs_calls_in_order_on_its_own_thread(qtbot) -> None:
    create_app()
    worker = Worker("test-worker")
    results: list[tuple[int, object]] = []
    worker.finished.connect(lambda ticket, result: results.append((ticket, result)))
    threads: list[int] = []

    def call(n: int) -> int:
        threads.append(threading.get_ident())
        return n * 10

    tickets = [worker.submit(lambda n=n: call(n)) for n in (1, 2, 3)]
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)
    assert results == [(tickets[0], 10), (tickets[1], 20), (tickets[2], 30)]
    assert threading.get_ident() not in threads and len(set(threads)) == 1
    worker.stop()
    assert not worker.running


def test_worker_reports_failures_with_a_readable_message(qtbot) -> None:
    create_app()
    worker = Worker("test-worker")
    failures: list[tuple[int, str]] = []
    worker.failed.connect(lambda ticket, message: failures.append((ticket, message)))

    def plain() -> None:
        raise VoxshiftError("the file is not a voice")

    def unexpected() -> None:
        raise KeyError("weight")

    first, second = worker.submit(plain), worker.submit(unexpected)
    ok = worker.submit(lambda: "still running")  # a failure does not stop the worker
    done: list[int] = []
    worker.finished.connect(lambda ticket, _r: done.append(ticket))
    qtbot.waitUntil(lambda: len(failures) == 2 and done == [ok], timeout=5000)
    assert failures == [(first, "the file is not a voice"), (second, "KeyError: 'weight'")]
    worker.stop()


def test_background_call_succeeds_then_ends(qtbot) -> None:
    create_app()
    call = BackgroundCall(lambda: 42)
    got: list[object] = []
    call.succeeded.connect(got.append)
    with qtbot.waitSignal(call.ended, timeout=5000):
        call.start()
    assert got == [42] and not call.running
