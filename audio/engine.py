"""The realtime engine: owns the stream(s), the rings, the worker and the live parameters.

``Engine(config, voice)`` -> ``start()``: validates the devices (``audio.devices.check_config``),
times the voice on a few hops, opens a full-duplex PortAudio stream (and an optional monitor
stream) that takes whatever block size the host delivers, pre-fills the output ring with the
minimum safe pre-fill for the host's period (``audio.config.plan_fill``; the worker re-plans when
the period turns out different or changes) and starts the worker thread. ``set_params`` swaps a frozen
:class:`LiveParams` (read once per hop); ``set_voice`` warms the new voice up on the caller's
thread and hands it to the worker, which swaps it in at a hop boundary with a crossfade.
``stats()`` is a cheap snapshot for a GUI polling at 30 Hz.

A stream error, a vanished device or a stopped audio server stops the engine: the worker sees the
stream finish or go silent (watchdog), sets ``error`` to a readable sentence and the streams are
closed on a helper thread with a timeout, so neither the caller nor the process ever hangs.
"""

from __future__ import annotations

import gc
import sys
import threading
import time

import numpy as np
import sounddevice as sd

from audio import native as native_callback
from audio.config import EngineConfig, EngineStats, LatencyBreakdown, LiveParams, plan_fill
from audio.devices import DeviceError, DeviceInfo, check_config, mark_backend_lost
from audio.jack_latency import JackPorts
from audio.ringbuffer import RingBuffer
from audio.stream import (
    DuplexIO,
    MonitorIO,
    NativeDuplexIO,
    SocketWake,
    host_settings,
    open_duplex,
    open_monitor,
    shared_ring,
)
from audio.worker import VoicePipeline, Worker, _torch_inference_mode
from models.base import PassthroughVoice, Voice
from models.errors import VoxshiftError

CLOSE_TIMEOUT_S = 3.0
PASSTHROUGH_HOP_S = 256 / 48000
"""Hop of the passthrough voice the engine uses when none is given and the hop is automatic."""
TIMING_BUDGET_S = 0.3
"""At most this long (and at most :data:`TIMING_HOPS` hops) timing the voice before a start."""
TIMING_HOPS = 16
UNTRUSTED_TIMESTAMPS = ("pulse", "pipewire", "default", "sysdefault")
"""ALSA plugin devices whose buffering PortAudio's timestamps do not see: planned only there."""


def resolve_hop(config_hop: int, voice: Voice, rate: int) -> int:
    """The worker's hop in device frames: the configured one, or (0) the voice's own at ``rate``."""
    if config_hop:
        return config_hop
    return max(16, round(voice.hop * rate / voice.sample_rate))


def time_pipeline(voice: Voice, rate: int, hop: int, denoise: Voice | None = None) -> float:
    """Seconds one device hop of ``voice`` (after the noise suppressor, if any) takes on this
    machine (its 90th percentile over a few hops of noise, throwaway states): what the pre-fill
    must leave the worker."""
    stages = [VoicePipeline(v, rate, hop) for v in (denoise, voice) if v is not None]
    x = (0.1 * np.random.default_rng(0).standard_normal(hop)).astype(np.float32)
    times: list[float] = []
    begin = time.perf_counter()
    with _torch_inference_mode():
        while len(times) < TIMING_HOPS and (len(times) < 2 or time.perf_counter() - begin < TIMING_BUDGET_S):
            t0 = time.perf_counter()
            for stage in stages:
                stage.process(x, "wet")
            times.append(time.perf_counter() - t0)
    return float(np.percentile(times[1:] if len(times) > 2 else times, 90))


class Engine:
    """Mic -> voice -> speaker in real time. See the module docstring."""

    def __init__(self, config: EngineConfig | None = None, voice: Voice | None = None) -> None:
        self._config = config or EngineConfig()
        self._voice = voice
        self._params = LiveParams()
        self._lock = threading.Lock()  # start/stop/restart only; never taken on the audio path
        self._error: str | None = None
        self._running = False
        self._io: DuplexIO | NativeDuplexIO | None = None
        self._monitor_io: MonitorIO | NativeDuplexIO | None = None
        self._native = False
        self._streams: list[sd.Stream | sd.OutputStream] = []
        self._worker: Worker | None = None
        self._rate = 0
        self._device_latency = (0.0, 0.0)
        self._jack = False
        self._jack_ports: JackPorts | None = None
        self._my_ports: tuple[str | None, str | None] = (None, None)
        self._trust_timestamps = True
        self._hop = 0

    # -- properties ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running and self._error is None

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def config(self) -> EngineConfig:
        return self._config

    @property
    def voice(self) -> Voice | None:
        return self._voice

    @property
    def native_callback(self) -> bool:
        """Whether the running (or last) stream uses the C callback (else the Python one)."""
        return self._native

    @property
    def hop(self) -> int:
        """The worker's hop in device frames for the running (or last) stream (0 before the first)."""
        return self._hop

    @property
    def samplerate(self) -> int:
        """The device rate of the running (or last) stream, 0 before the first start."""
        return self._rate

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the devices and start streaming. Raises DeviceError if the devices cannot run."""
        with self._lock:
            if self._running:
                return
            self._error = None
            cfg = self._config
            din, dout, dmon, rate = check_config(
                cfg.input_device, cfg.output_device, cfg.samplerate, monitor_device=cfg.monitor_device
            )
            voice = self._voice or PassthroughVoice(rate, cfg.hop or round(PASSTHROUGH_HOP_S * rate))
            voice.set_params(self._params.voice)
            voice.warmup()
            self._voice, self._rate = voice, rate
            hop = self._hop = resolve_hop(cfg.hop, voice, rate)
            pipeline = VoicePipeline(voice, rate, hop)
            noise = self._noise_stage()
            denoise = VoicePipeline(noise, rate, hop) if noise is not None else None
            step = time_pipeline(voice, rate, hop, noise)
            capacity = max(int(cfg.ring_seconds * rate), 16 * hop, 65536)
            native = native_callback.load() if cfg.native_callback else None
            self._native = native is not None
            io: DuplexIO | NativeDuplexIO
            monitor_ring: RingBuffer | None = None
            self._monitor_io = None
            if native is not None:
                io = NativeDuplexIO(
                    native, shared_ring(native, capacity), shared_ring(native, capacity, keep_timeline=True)
                )
                if dmon is not None:
                    monitor_ring = shared_ring(native, capacity, keep_timeline=True)
                    self._monitor_io = NativeDuplexIO(native, None, monitor_ring)
            else:
                wake = SocketWake() if cfg.wake == "signal" else None
                io = DuplexIO(RingBuffer(capacity), RingBuffer(capacity, keep_timeline=True), wake)
                if dmon is not None:
                    monitor_ring = RingBuffer(capacity, keep_timeline=True)
                    self._monitor_io = MonitorIO(monitor_ring)
            io.wake_frames = hop if cfg.wake == "signal" else 0
            self._io = io
            self._jack = any("JACK" in d.hostapi for d in (din, dout, dmon) if d is not None)
            self._trust_timestamps = not any(
                d.name.strip().lower() in UNTRUSTED_TIMESTAMPS for d in (din, dout) if d is not None
            )
            worker = Worker(
                cfg,
                io,
                pipeline,
                self._params,
                rate,
                monitor_ring,
                self._fail,
                step_seconds=step,
                denoise=denoise,
            )
            worker.monitor_io = self._monitor_io
            self._worker = worker
            try:
                self._open_streams(din, dout, dmon, rate, cfg.blocksize)
            except sd.PortAudioError as exc:
                self._close_streams()
                self._forget_jack_if_gone()
                raise DeviceError(f"Could not open the audio devices at {rate} Hz: {exc}.") from exc
            plan = plan_fill(self._period_guess(hop), hop, worker.plan.processing, cfg.margin)
            io.out.write(np.zeros(plan.fill, dtype=np.float32))
            if monitor_ring is not None:
                monitor_ring.write(np.zeros(plan.fill, dtype=np.float32))
            if native is None:
                # The Python callback needs the GIL every period: ask holders to hand it over soon,
                # and move every object alive now (models, voices, Qt) out of the collector's sight,
                # since a full GC pass holds the GIL for milliseconds.
                sys.setswitchinterval(min(sys.getswitchinterval(), 0.0002))
                gc.collect()
                gc.freeze()
            worker.mark_started(plan)
            worker.start()
            try:
                for stream in self._streams:
                    stream.start()
            except sd.PortAudioError as exc:
                worker.stop_requested = True
                self._close_streams()
                self._forget_jack_if_gone()
                raise DeviceError(f"Could not start the audio stream: {exc}.") from exc
            self._running = True

    def _noise_stage(self) -> Voice | None:
        """The noise suppressor the config asks for; DeviceError-like VoxshiftError if unavailable."""
        level = self._config.noise_suppression
        if level == "off":
            return None
        from audio.denoise import NoiseStage
        from dsp.rnnoise import RNNoiseUnavailableError

        try:
            return NoiseStage(level)
        except RNNoiseUnavailableError as exc:
            raise VoxshiftError(f"Noise suppression is not available: {exc}.") from exc

    def _period_guess(self, hop: int) -> int:
        """The host period before the first callback tells: JACK's buffer size, the block asked
        for, else the hop (the worker re-plans from the real cycles either way)."""
        if self._jack_ports is not None:
            size = self._jack_ports.buffer_size()
            if size > 0:
                return size
        return self._config.blocksize or hop

    def _open_streams(
        self, din: DeviceInfo, dout: DeviceInfo, dmon: DeviceInfo | None, rate: int, block: int
    ) -> None:
        cfg = self._config
        assert self._io is not None
        out_ch = min(2, max(1, dout.max_output_channels))
        self._jack_ports = JackPorts.open() if self._jack else None
        before = self._jack_ports.client_ports() if self._jack_ports is not None else set()
        extra = (
            host_settings(din.hostapi, exclusive=cfg.exclusive),
            host_settings(dout.hostapi, exclusive=cfg.exclusive),
        )
        stream = open_duplex(self._io, din.index, dout.index, out_ch, rate, block, cfg.device_latency, extra)
        self._streams = [stream]
        if self._jack_ports is not None:
            mine = sorted(self._jack_ports.client_ports() - before, key=_port_number)
            ins = [p for p in mine if ":in_" in p]
            outs = [p for p in mine if ":out_" in p]
            self._my_ports = (ins[0] if ins else None, outs[0] if outs else None)
        latency = stream.latency
        self._device_latency = (float(latency[0]), float(latency[1]))
        if dmon is not None and self._monitor_io is not None:
            mon_ch = min(2, max(1, dmon.max_output_channels))
            monitor = open_monitor(
                self._monitor_io,
                dmon.index,
                mon_ch,
                rate,
                block,
                cfg.device_latency,
                host_settings(dmon.hostapi, exclusive=cfg.exclusive),
            )
            self._streams.append(monitor)
            if self._worker is not None:
                self._worker.monitor_shift = (self._device_latency[1] - float(monitor.latency)) * rate

    def stop(self) -> None:
        """Stop streaming and release the devices (idempotent, returns within a few seconds)."""
        with self._lock:
            worker = self._worker
            if worker is not None:
                worker.stop_requested = True
                if worker.thread.is_alive() and worker.thread is not threading.current_thread():
                    worker.thread.join(timeout=CLOSE_TIMEOUT_S)
            self._close_streams()
            if self._io is not None:
                self._io.close()
            if self._jack_ports is not None:
                self._jack_ports.close()
                self._jack_ports = None
            self._running = False

    def restart(self, config: EngineConfig | None = None) -> None:
        """Stop, optionally apply a new configuration, and start again (keeps voice and params)."""
        self.stop()
        if config is not None:
            self._config = config
        self.start()

    def _forget_jack_if_gone(self) -> None:
        """A JACK stream that fails to open usually means the server went away: never terminate it."""
        if self._jack:
            mark_backend_lost()

    def _fail(self, message: str) -> None:
        """Called by the worker: remember the first error and release the devices off-thread."""
        if self._error is None:
            self._error = message
        if self._jack:
            mark_backend_lost()  # PortAudio's JACK host API must not be terminated any more
        threading.Thread(target=self.stop, name="voxshift-engine-stop", daemon=True).start()

    def _close_streams(self) -> None:
        """Abort and close the streams on a helper thread: a dead audio server must not hang us."""
        streams, self._streams = self._streams, []
        if not streams:
            return

        def close() -> None:
            for stream in streams:
                try:
                    stream.abort(ignore_errors=True)
                    stream.close(ignore_errors=True)
                except sd.PortAudioError:
                    pass  # already gone with its device; nothing left to release

        closer = threading.Thread(target=close, name="voxshift-stream-close", daemon=True)
        closer.start()
        closer.join(timeout=CLOSE_TIMEOUT_S)

    # -- live control -------------------------------------------------------------------------
    def set_params(self, params: LiveParams) -> None:
        """Apply new live parameters at the next hop (one reference swap, no restart)."""
        self._params = params
        if self._worker is not None:
            self._worker.params = params
        if not self._running and self._voice is not None:
            self._voice.set_params(params.voice)

    @property
    def params(self) -> LiveParams:
        return self._params

    def set_voice(self, voice: Voice) -> None:
        """Use ``voice`` from the next hop on, crossfaded. Warm-up runs here, off the audio path."""
        voice.set_params(self._params.voice)
        voice.warmup()
        worker = self._worker
        if self._running and worker is not None:
            worker.pending = VoicePipeline(voice, self._rate, worker.hop)
        self._voice = voice

    # -- statistics ---------------------------------------------------------------------------
    def device_latency(self) -> tuple[float, float, str]:
        """The host's (capture, playback) latency in seconds and where it came from.

        On JACK: what JACK computes along our ports' actual connections ("jack"); elsewhere
        PortAudio's ``stream.latency`` ("portaudio").
        """
        ports, (port_in, port_out) = self._jack_ports, self._my_ports
        if ports is not None and ports.usable and port_in and port_out:
            cap, play = ports.capture_latency(port_in), ports.playback_latency(port_out)
            if cap is not None and play is not None:
                return cap / self._rate, play / self._rate, "jack"
        return self._device_latency[0], self._device_latency[1], "portaudio"

    def planned_latency(self) -> LatencyBreakdown:
        """The latency the engine plans for the current stream, host period and voice."""
        worker = self._worker
        if worker is None or self._rate == 0:
            return LatencyBreakdown()
        pipeline = worker.pending or worker.pipeline
        voice = pipeline.voice
        rate, plan = self._rate, worker.plan
        device_in, device_out, _ = self.device_latency()
        denoise = worker.denoise.lag / rate if worker.denoise is not None else 0.0
        return LatencyBreakdown.build(
            device_in=device_in,
            device_out=device_out,
            hop=(plan.hop + pipeline.prefill) / rate,
            period=plan.wait / rate,
            processing=plan.extra / rate,
            margin=plan.margin / rate,
            denoise=denoise,
            resampler=pipeline.resampler_delay,
            voice=voice.latency / voice.sample_rate,
        )

    def lag_frames(self) -> float:
        """The engine's own lag from input to output callback in device frames, from its counters:
        the pre-fill the rings really hold, the pipeline's lag and input frames lost to overruns."""
        worker = self._worker
        if worker is None:
            return 0.0
        dropped = self._io.inp.dropped_frames if self._io is not None else 0
        denoise = worker.denoise.lag if worker.denoise is not None else 0.0
        return worker.fill_now + (worker.pending or worker.pipeline).lag + denoise + dropped

    def measured_latency(self) -> tuple[float | None, str]:
        """Capture-to-playback seconds as measured, and the source of its device part ("" if none).

        The engine's part comes from its ring counters (``lag_frames``). The device part: JACK's
        latency of our ports' connections; else the callback's PortAudio timestamps (output DAC
        time minus input ADC time of the same block), where the host gives sane ones. Otherwise
        there is nothing to measure with: ``(None, "")``, and the meter says "planned only".
        """
        io, worker = self._io, self._worker
        if io is None or worker is None or not io.callbacks or worker.hops == 0:
            return None, ""
        engine = self.lag_frames() / self._rate
        device_in, device_out, source = self.device_latency()
        if source == "jack":
            return device_in + device_out + engine, source
        span = io.dac_time - io.adc_time
        if self._trust_timestamps and io.adc_time > 0 and io.dac_time > 0 and 0.0 <= span < 2.0:
            return span + engine, "portaudio"
        return None, ""

    def stats(self) -> EngineStats:
        """A snapshot of counters, levels and latency."""
        worker, io = self._worker, self._io
        if worker is None or io is None:
            return EngineStats(running=self.running, error=self._error)
        rate = self._rate
        n = min(worker.hops, len(worker.hop_times))
        start = worker.hops % len(worker.hop_times) if worker.hops > n else 0
        times = np.roll(worker.hop_times, -start)[:n].copy()
        budget = worker.hop / rate
        measured, source = self.measured_latency()
        monitor_xruns = self._monitor_io.xruns if self._monitor_io is not None else 0
        return EngineStats(
            running=self.running,
            error=self._error,
            planned=self.planned_latency(),
            measured_latency=measured,
            measured_source=source,
            period=worker.plan.period,
            hop_times=times,
            hop_budget=budget,
            rtf=float(np.median(times)) / budget if n else 0.0,
            input_overflows=io.inp.overruns,
            output_underflows=io.out.underruns,
            late_hops=worker.late_hops,
            replans=worker.replans,
            period_gaps=worker.period_gaps,
            xruns=io.xruns + monitor_xruns,
            input_level_db=worker.input_level_db,
            output_level_db=worker.output_level_db,
            hops=worker.hops,
            samplerate=rate,
            voice_name=worker.pipeline.voice.name,
        )


def _port_number(name: str) -> int:
    tail = name.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0
