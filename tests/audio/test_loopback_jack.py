"""The loopback latency measurement through a real JACK graph (dummy driver).

While ``measure_loopback``'s own stream runs, a JACK client wires its ``PortAudio:out_0`` straight
back into its ``PortAudio:in_0`` (the dummy ``system:capture`` feeds are removed): a true loopback.
"""

from __future__ import annotations

import contextlib

import jack
import pytest

from audio.loopback import LoopbackConfig, LoopbackError, measure_loopback
from benchkit.jackbench import JackHarness

RATE = 48000
PERIOD = 256


def wire_loopback(bench: JackHarness, before: tuple[list[str], list[str]], *, connect: bool) -> None:
    """Feed the new stream's input only from its own output (or from nothing, ``connect=False``)."""
    ins, outs = bench.app_ports()
    new_in = [p for p in ins if p not in before[0]]
    new_out = [p for p in outs if p not in before[1]]
    assert new_in and new_out, (ins, outs)
    # a plain wiring client (no process callback) in this process; the harness's own lives elsewhere
    with jack.Client("voxwire", no_start_server=True) as client:
        for name in new_in:
            for other in client.get_all_connections(name):
                with contextlib.suppress(jack.JackError):
                    client.disconnect(other, name)
            if connect:
                client.connect(new_out[0], name)


@pytest.mark.jack
@pytest.mark.slow
def test_loopback_lag_is_the_jack_round_trip(jack_server):
    server = jack_server(RATE, PERIOD)
    with JackHarness(server) as bench:
        expected = bench.device_lag  # harness -> passthrough stream -> harness, measured
        before = bench.app_ports()
        cfg = LoopbackConfig(seconds=0.6, blocksize=0)  # the host's own block, as the engine's stream
        result = measure_loopback(
            None, None, RATE, config=cfg, on_stream_open=lambda: wire_loopback(bench, before, connect=True)
        )
    assert result.samplerate == RATE
    assert result.correlation > 0.99
    assert result.confidence > 50
    assert abs(result.lag_frames - expected) <= 2
    assert result.lag_seconds == pytest.approx(result.lag_frames / RATE)


@pytest.mark.jack
def test_without_a_loopback_it_raises(jack_server):
    server = jack_server(RATE, PERIOD)
    with JackHarness(server) as bench:
        before = bench.app_ports()
        with pytest.raises(LoopbackError, match="no loopback found: connect the output to the input"):
            measure_loopback(
                None,
                None,
                RATE,
                seconds=0.4,
                blocksize=PERIOD,
                on_stream_open=lambda: wire_loopback(bench, before, connect=False),
            )
