"""The big toggle starts and stops the real engine (PortAudio on the JACK dummy server)."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit.jackbench import JackHarness, measure_lag

RATE = 48000


@pytest.mark.jack
@pytest.mark.slow
def test_toggle_streams_through_jack_and_the_meter_follows(jack_server, open_window, qtbot):
    server = jack_server(RATE, 256)
    window, controller = open_window()
    qtbot.waitUntil(lambda: controller.voices.current is not None)
    assert window.input_picker.current_choice() is not None
    window.toggle.click()
    assert controller.engine.running, controller.dialogs.errors
    assert window.toggle.isChecked() and "Live" in window.status.text()
    with JackHarness(server) as bench:
        bench.connect_app()
        qtbot.wait(300)  # the harness joining the graph is part of the warm-up
        x = bench.test_signal(1.0)
        rec = bench.play_record(x, tail=0.2)
        qtbot.waitUntil(lambda: controller.engine.poll().hops > 50, timeout=10000)
        stats = controller.engine.poll()  # the meter shows this snapshot (the signal is direct)
        planned_text = window.meter.tiles["planned"].value.text()
        measured_text = window.meter.tiles["measured"].value.text()
    lag, corr = measure_lag(x, rec[0])
    assert corr > 0.99  # the passthrough voice reached the output
    assert planned_text == f"{stats.planned.total * 1e3:.1f} ms"
    # The meter's measured latency is the true one (the harness's sample-exact lag): within a
    # period, as the issue asks; here to the displayed 0.1 ms.
    assert stats.measured_source == "jack"
    assert measured_text == f"{stats.measured_latency * 1e3:.1f} ms"
    assert abs(stats.measured_latency * RATE - lag) <= 1, (stats.measured_latency * RATE, lag)
    assert np.isfinite(window.meter._history).sum() > 0
    assert window.meter.tiles["late"].value.text() == str(controller.engine.engine.stats().late_hops)
    window.toggle.click()
    assert not controller.engine.running and not controller.engine.engine.running
    assert "Stopped" in window.status.text()
    # Ctrl+T / Space start it again
    window.toggle_action.trigger()
    assert controller.engine.running
    window.toggle_action.trigger()
    assert not controller.engine.running
