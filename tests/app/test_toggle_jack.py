"""The big toggle starts and stops the real engine (PortAudio on the JACK dummy server)."""

from __future__ import annotations

import numpy as np
import pytest

from benchkit.jackbench import JackHarness

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
        rec = bench.play_record(bench.test_signal(0.5), tail=0.2)
    qtbot.waitUntil(lambda: controller.engine.poll().hops > 50, timeout=10000)
    stats = controller.engine.poll()
    qtbot.wait(100)
    assert np.max(np.abs(rec)) > 0.01  # the passthrough voice reached the output
    assert window.meter.tiles["planned"].value.text() == f"{stats.planned.total * 1e3:.1f} ms"
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
