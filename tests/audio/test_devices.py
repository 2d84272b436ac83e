"""Device lookup and validation against the JACK dummy server (a real PortAudio host API)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from audio.devices import DeviceError, check_config, find_device, list_devices, list_hostapis

pytestmark = pytest.mark.jack
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jack(jack_server):
    return jack_server(48000, 256)


def test_lists_the_jack_host_api_and_device(jack):
    assert any("JACK" in h.name for h in list_hostapis())
    system = [d for d in list_devices() if d.name == "system"]
    assert len(system) == 1
    assert system[0].max_input_channels == 2 and system[0].max_output_channels == 2
    assert system[0].default_samplerate == 48000


def test_find_by_index_name_part_and_default(jack):
    system = find_device("system", "input")
    assert find_device(system.index, "output") == system
    assert find_device(str(system.index), "input") == system
    assert find_device("SYST", "output") == system
    assert find_device("system (JACK Audio Connection Kit)", "input") == system
    assert find_device(None, "input").index == system.index


def test_unknown_name_lists_close_matches(jack):
    with pytest.raises(DeviceError, match=r"No input device named 'sytsem'; did you mean 'system"):
        find_device("sytsem", "input")
    with pytest.raises(DeviceError, match="There is no audio device 99"):
        find_device(99, "output")


def test_unsupported_rate_and_channels_are_explained(jack):
    with pytest.raises(DeviceError) as err:
        check_config("system", "system", 44100)
    message = str(err.value)
    assert "does not support 44100 Hz" in message and "48000" in message
    with pytest.raises(DeviceError, match="cannot open 4 channel"):
        check_config("system", "system", 48000, channels=4)
    din, dout, dmon, rate = check_config(None, "system", None)
    assert rate == 48000 and din == dout and dmon is None


def test_devices_command_lists_the_jack_device(jack):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "devices"],
        cwd=ROOT,
        env=jack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "system (JACK Audio Connection Kit)" in proc.stdout
    assert "host APIs:" in proc.stdout


def test_live_with_an_unknown_device_says_what_exists(jack):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "live", "--input", "usb mic", "--seconds", "1"],
        cwd=ROOT,
        env=jack.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "No input device named 'usb mic'" in proc.stderr and "system" in proc.stderr
    assert "Traceback" not in proc.stderr
