"""Tools > Measure latency… on the real JACK bench: the engine stops, a loopback is measured on a
worker thread, the result is shown and the engine restarts."""

from __future__ import annotations

import contextlib
import time

import jack
import pytest
import sounddevice as sd
from PySide6.QtWidgets import QMessageBox

from audio.loopback import LoopbackConfig
from benchkit.jackbench import JackHarness, measure_lag

RATE = 48000
PERIOD = 256


def loopback_wiring(bench: JackHarness, *, connect: bool):
    """A hook for ``controller.latency.on_stream_open``: the measurement stream's new input ports are fed
    only from its own first output (``connect``) or from nothing."""
    before = bench.app_ports()

    def wire() -> None:
        ins, outs = bench.app_ports()
        new_in = [p for p in ins if p not in before[0]]
        new_out = [p for p in outs if p not in before[1]]
        # a plain wiring client (no process callback); the harness's own client lives in a child
        with jack.Client("voxwire", no_start_server=True) as client:
            for name in new_in:
                for other in client.get_all_connections(name):
                    with contextlib.suppress(jack.JackError):
                        client.disconnect(other, name)
                if connect and new_out:
                    client.connect(new_out[0], name)

    return wire


def passthrough_lag(bench: JackHarness, blocksize: int, latency: object) -> int:
    """Lag of a plain PortAudio passthrough stream opened like the engine's (harness -> it -> harness)."""

    def copy(indata, outdata, frames, t, status) -> None:
        outdata[:] = indata

    before_in, before_out = bench.app_ports()
    with sd.Stream(
        samplerate=RATE, blocksize=blocksize, channels=1, dtype="float32", latency=latency, callback=copy
    ):
        time.sleep(0.2)
        ins, outs = bench.app_ports()
        saved = bench.connections()
        bench.connect_ports(
            [p for p in ins if p not in before_in], [p for p in outs if p not in before_out][:1]
        )
        x = bench.test_signal(0.3, seed=5)
        rec = bench.play_record(x, tail=0.2)
        bench.restore(saved)
    return measure_lag(x, rec[0])[0]


def dialogs(window, name: str) -> list[QMessageBox]:
    return [b for b in window.findChildren(QMessageBox) if b.objectName() == name and b.isVisible()]


@pytest.mark.jack
@pytest.mark.slow
def test_measure_latency_stops_measures_and_restarts_the_engine(jack_server, open_window, qtbot):
    server = jack_server(RATE, PERIOD)
    with JackHarness(server) as bench:
        window, controller = open_window()
        qtbot.waitUntil(lambda: controller.voices.current is not None)
        config = controller.devices.engine_config()
        expected = passthrough_lag(bench, config.blocksize or config.hop, config.device_latency)
        window.toggle.click()
        assert controller.engine.running, controller.dialogs.errors
        controller.latency.config = LoopbackConfig(seconds=0.6)
        controller.latency.on_stream_open = loopback_wiring(bench, connect=True)
        with qtbot.waitSignal(controller.latency.measured, timeout=10000) as blocker:
            window.measure_action.trigger()
            assert not controller.engine.running  # stopped while the loopback stream runs
            assert not window.measure_action.isEnabled()
        result = blocker.args[0]
    assert abs(result.lag_frames - expected) <= 2
    assert controller.latency.last == result
    assert controller.engine.running and window.toggle.isChecked()
    assert window.measure_action.isEnabled()
    [box] = dialogs(window, "latencyDialog")
    assert f"{result.lag_seconds * 1e3:.1f} ms" in box.text()
    assert "planned latency" in box.text()
    assert f"{result.lag_seconds * 1e3:.1f} ms" in window.meter.tiles["measured"].toolTip()
    box.accept()
    window.toggle.click()
    assert not controller.engine.running


@pytest.mark.jack
def test_without_a_loopback_the_error_is_shown_and_nothing_is_started(jack_server, open_window, qtbot):
    server = jack_server(RATE, PERIOD)
    with JackHarness(server) as bench:
        window, controller = open_window()
        qtbot.waitUntil(lambda: controller.voices.current is not None)
        assert not controller.engine.running
        controller.latency.config = LoopbackConfig(seconds=0.4)
        controller.latency.on_stream_open = loopback_wiring(bench, connect=False)
        with qtbot.waitSignal(controller.latency.failed, timeout=10000) as blocker:
            window.measure_action.trigger()
    assert "no loopback found: connect the output to the input" in blocker.args[0]
    [box] = dialogs(window, "errorDialog")
    assert "no loopback found" in box.text()
    assert not controller.engine.running and controller.latency.last is None
    assert window.measure_action.isEnabled()
