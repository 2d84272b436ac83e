"""Tools > Measure latency…: stop the engine, measure the device round trip through a loopback on
a worker thread (``audio.loopback``, about a second), show what it means next to the planned
latency, and restart the engine if it ran."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.background import Worker
from app.controllers.devices import DeviceController
from app.controllers.dialogs import Dialogs
from app.controllers.live import LiveController
from app.engine_model import EngineModel
from app.main_window import MainWindow
from audio.config import LatencyBreakdown

if TYPE_CHECKING:  # audio.loopback starts PortAudio: imported when a measurement starts
    from audio.loopback import LoopbackConfig, LoopbackResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Measuring:
    was_running: bool
    planned: LatencyBreakdown | None
    """the engine's planned latency before the measurement (None when it did not run)"""


class LatencyController(QObject):
    """One loopback measurement at a time; ``last`` is the latest result."""

    measured = Signal(object)
    """an ``audio.loopback.LoopbackResult`` after a measurement succeeded"""
    failed = Signal(str)
    """the plain message when the measurement failed (no loopback, device error)"""

    def __init__(
        self,
        window: MainWindow,
        engine: EngineModel,
        devices: DeviceController,
        live: LiveController,
        dialogs: Dialogs,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window, self.engine, self.devices, self.live, self.dialogs = (
            window,
            engine,
            devices,
            live,
            dialogs,
        )
        self.last: LoopbackResult | None = None
        self.config: LoopbackConfig | None = None
        """the measurement's settings (None: the defaults); blocksize and latency follow the engine"""
        self.on_stream_open: Callable[[], None] | None = None
        """called on the probe thread once the measurement stream runs (tests wire JACK there)"""
        self._measuring: _Measuring | None = None
        self._probe = Worker("latency-probe", self)
        self._probe.finished.connect(self._on_measured)
        self._probe.failed.connect(self._on_failed)

    def measure(self) -> bool:
        """Start a measurement; False when nothing was started (already measuring, no devices)."""
        from audio.loopback import LoopbackConfig, measure_loopback

        config = self.devices.engine_config()
        if self._measuring is not None:
            return False
        if config is None:
            self.dialogs.error("No audio devices", "Pick an input and an output device, then measure again.")
            return False
        running = self.engine.running
        engine = self.engine.engine
        planned = engine.planned_latency() if engine is not None and running else None
        self._measuring = _Measuring(running, planned)
        self.engine.stop()
        self.window.measure_action.setEnabled(False)
        self.window.set_status("Measuring the loopback round trip…", "warn")
        # the engine's block size and latency setting: the round trip its own stream will have
        probe = replace(
            self.config or LoopbackConfig(),
            blocksize=config.blocksize or config.hop,
            latency=config.device_latency,
        )
        inp, out, rate = config.input_device, config.output_device, config.samplerate
        assert isinstance(inp, int) and isinstance(out, int) and rate is not None  # pickers give these
        self._probe.submit(
            partial(
                measure_loopback,
                inp,
                out,
                rate,
                config=probe,
                on_stream_open=self.on_stream_open,
            )
        )
        return True

    def shutdown(self) -> None:
        self._probe.stop()

    def _end(self) -> LatencyBreakdown | None:
        """Re-enable the action, restart the engine if it ran before; the planned latency then."""
        measuring, self._measuring = self._measuring, None
        self.window.measure_action.setEnabled(True)
        if measuring is not None and measuring.was_running:
            self.live.start()
        self.live.refresh_status()
        return measuring.planned if measuring else None

    def _on_measured(self, _ticket: int, result: object) -> None:
        from audio.loopback import LoopbackResult

        planned = self._end()
        if not isinstance(result, LoopbackResult):
            return
        self.last = result
        ms = result.lag_seconds * 1e3
        self.window.meter.set_loopback_note(
            f"Last loopback measurement (Tools > Measure latency…): {ms:.1f} ms device round trip"
        )
        text = latency_text(result, planned)
        log.info("loopback: %s", text.replace("\n", " "))
        self.dialogs.info("Measured latency", text, "latencyDialog")
        self.measured.emit(result)

    def _on_failed(self, _ticket: int, message: str) -> None:
        self._end()
        self.dialogs.error("Latency not measured", message)
        self.failed.emit(message)


def latency_text(result: LoopbackResult, planned: LatencyBreakdown | None) -> str:
    """The message box text: the round trip and what it means next to the planned latency."""
    ms = result.lag_seconds * 1e3
    lines = [
        f"Round trip output -> input: {ms:.1f} ms ({result.lag_frames} frames at {result.samplerate} Hz, "
        f"correlation {result.correlation:.2f}).",
        "That is what the sound card, its driver buffers and the loopback add, without Voxshift "
        f"(PortAudio's own estimate for these buffers: {result.reported_latency * 1e3:.1f} ms).",
    ]
    if planned is not None and planned.total > 0:
        engine_ms = planned.engine * 1e3
        lines.append(
            f"The meter's planned latency is {planned.total * 1e3:.1f} ms: {engine_ms:.1f} ms of it is the "
            f"engine (hop, prefill, resampler, voice), so live you should hear about "
            f"{ms + engine_ms:.1f} ms from microphone to output."
        )
    else:
        lines.append(
            "Live latency is this round trip plus what the engine adds (hop, prefill, resampler, voice): "
            "start the engine and look at Planned latency in the meter."
        )
    return "\n\n".join(lines)
