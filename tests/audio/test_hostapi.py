"""Host-API settings Voxshift hands to PortAudio: ASIO enabled on Windows, WASAPI exclusive mode.

Only JACK runs here; these tests check what is passed to PortAudio, and that PortAudio really gets
it (it refuses settings of another host API for a JACK device).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import sounddevice as sd

from audio import enable_asio, native
from audio.ringbuffer import RingBuffer
from audio.stream import DuplexIO, NativeDuplexIO, host_settings, open_duplex, shared_ring


def test_asio_is_asked_for_on_windows_only_and_a_users_choice_wins():
    env: dict[str, str] = {}
    assert enable_asio(env, "win32") and env == {"SD_ENABLE_ASIO": "1"}
    env = {"SD_ENABLE_ASIO": "0"}
    assert not enable_asio(env, "win32") and env == {"SD_ENABLE_ASIO": "0"}
    env = {}
    assert not enable_asio(env, "linux") and env == {}
    assert not enable_asio(env, "darwin") and env == {}


def test_wasapi_exclusive_mode_is_the_only_host_setting():
    settings = host_settings("Windows WASAPI", exclusive=True)
    assert isinstance(settings, sd.WasapiSettings)
    info = settings._streaminfo
    assert info.hostApiType == sd._lib.paWASAPI
    assert info.flags & sd._lib.paWinWasapiExclusive
    assert host_settings("Windows WASAPI", exclusive=False) is None  # shared mode: PortAudio's default
    for other in ("ASIO", "MME", "Windows DirectSound", "Core Audio", "ALSA", "JACK Audio Connection Kit"):
        assert host_settings(other, exclusive=True) is None


@pytest.mark.jack
@pytest.mark.parametrize("use_c", [True, False], ids=["c-callback", "python-callback"])
def test_the_settings_reach_portaudio(jack_server, use_c):
    """PortAudio checks host settings against the device's host API: WASAPI settings for a JACK
    device are refused, and None opens the stream."""
    jack_server(48000, 256)
    lib = native.load()
    assert lib is not None
    if use_c:
        io: DuplexIO | NativeDuplexIO = NativeDuplexIO(lib, shared_ring(lib, 4096), shared_ring(lib, 4096))
    else:
        io = DuplexIO(RingBuffer(4096), RingBuffer(4096))
    wasapi = host_settings("Windows WASAPI", exclusive=True)
    with pytest.raises(sd.PortAudioError, match=r"(?i)host ?api"):
        open_duplex(io, sd.default.device[0], sd.default.device[1], 1, 48000, 0, "low", (wasapi, None))
    stream = open_duplex(io, sd.default.device[0], sd.default.device[1], 1, 48000, 0, "low", (None, None))
    try:
        stream.start()
        deadline = time.monotonic() + 5
        while io.callbacks < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert io.callbacks >= 3 and io.block == 256
        assert np.all(io.cycle_log[:3] == 256)
    finally:
        stream.abort()
        stream.close()
        io.close()
