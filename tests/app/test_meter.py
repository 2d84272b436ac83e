"""The meter shows the engine's counters as they are."""

from __future__ import annotations

import numpy as np

from app.widgets.meter import MeterPanel
from audio.config import EngineStats, LatencyBreakdown


def _stats(hops: int, **kw) -> EngineStats:
    planned = LatencyBreakdown.build(
        device_in=0.005, device_out=0.005, margin=0.00533, hop=0.00533, resampler=0.0, voice=0.002
    )
    base = dict(
        running=True,
        planned=planned,
        measured_latency=0.0251,
        hop_times=np.full(50, 0.0012),
        hop_budget=256 / 48000,
        rtf=0.23,
        input_overflows=1,
        output_underflows=2,
        late_hops=3,
        xruns=4,
        input_level_db=-20.0,
        output_level_db=-12.5,
        hops=hops,
    )
    base.update(kw)
    return EngineStats(**base)


def test_meter_numbers_follow_the_counters(qtbot):
    meter = MeterPanel()
    qtbot.addWidget(meter)
    stats = _stats(100)
    meter.update_stats(stats)
    t = meter.tiles
    assert t["planned"].value.text() == f"{stats.planned.total * 1e3:.1f} ms"
    assert t["measured"].value.text() == "25.1 ms"
    assert t["rtf"].value.text() == "0.23"
    assert t["late"].value.text() == "3"
    assert t["xruns"].value.text() == "4  (1 / 2)"
    assert t["hop"].value.text() == "1.20 / 5.3 ms"
    assert meter.input_level.level_db == -20.0 and meter.output_level.level_db == -12.5
    assert meter.budget_line.value() == stats.hop_budget * 1e3
    # 50 recent hop times arrived with the first 100 hops; 30 more hops add exactly 30 points
    assert np.isfinite(meter._history).sum() == 50
    meter.update_stats(_stats(130, late_hops=9, xruns=5, measured_latency=None, rtf=1.4))
    assert np.isfinite(meter._history).sum() == 80
    assert t["late"].value.text() == "9" and t["xruns"].value.text().startswith("5")
    assert t["measured"].value.text() == "planned only"  # running, but the host gives no measurement
    assert "planned latency is all there is" in t["measured"].toolTip()
    assert t["rtf"].value.property("tone") == "bad"
    meter.update_stats(_stats(130, running=False, measured_latency=None))
    assert t["measured"].value.text() == "—"  # not streaming: nothing to show
