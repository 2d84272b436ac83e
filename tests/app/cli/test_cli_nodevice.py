"""Without any audio device (no sound card, no audio server) the commands say so plainly."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

# A JACK server name that does not exist and no auto-start: PortAudio sees no JACK device; this
# machine class (CI, containers) has no sound card, so ALSA/OSS list nothing either.
ENV = dict(os.environ, JACK_DEFAULT_SERVER="voxshift-no-such-server", JACK_NO_START_SERVER="1")


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "app", *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60
    )


def test_devices_and_live_explain_that_there_is_no_device():
    devices = _run("devices")
    assert devices.returncode == 1
    assert "No audio devices found" in devices.stdout
    live = _run("live", "--seconds", "1")
    assert live.returncode == 1
    assert "error: No input device found" in live.stderr
    assert "Traceback" not in live.stderr
