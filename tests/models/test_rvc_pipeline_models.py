"""RVC pipelines with our own HuBERT, RMVPE and synthesizer on rule-weight community files.

Files are written in the community containers from the manifests and loaded through the same
code path a user's file takes. Noise terms are zeroed as in the goldens.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from models.base import VoiceParams
from models.kinds import RvcVersion, VoiceKind
from models.rvc import ZERO_NOISE
from models.rvc.inference import open_pipeline, open_realtime_voice
from models.rvc.pipeline import PipelineConfig, RvcPipeline
from models.rvc.realtime import RealtimeConfig
from models.rvc.testing import write_voice_file
from models.testing import load_manifest
from tests.rvc_files import rule_model_files

pytestmark = pytest.mark.slow
MANIFEST_V2 = "manifest_rvc_v2_f0_40k.json"
MANIFEST_NOF0 = "manifest_rvc_v2_nof0_48k.json"


def snr_db(ref: np.ndarray, x: np.ndarray) -> float:
    return float(
        10 * np.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((x - ref).astype(np.float64) ** 2))
    )


@pytest.fixture(scope="module")
def files():
    return rule_model_files()


@pytest.fixture(scope="module")
def pipeline(files):
    cfg = PipelineConfig(pitch=3, index_rate=0.75, protect=0.33, rms_mix_rate=0.25)
    pipe = open_pipeline(files["voice"], files["hubert"], files["rmvpe"], files["index"], "rmvpe", cfg)
    pipe.synthesizer.noise = ZERO_NOISE
    return pipe


@pytest.fixture(scope="module")
def pipeline_golden(reference_dir):
    with np.load(reference_dir / "pipeline_v2_40k.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def realtime_golden(reference_dir):
    with np.load(reference_dir / "realtime_v2_40k.npz") as z:
        return {k: z[k] for k in z.files}


def test_file_conversion_holds_one_model_at_a_time(pipeline, reference_dir):
    """Pitch, content and synthesis passes each load their model and free the others; a second
    conversion reloads them (with the settings made on the pipeline) and gives the same samples."""
    x, sr = sf.read(reference_dir / "pipeline_v2_40k.wav", dtype="float32")
    synth, content, f0 = pipeline.synthesizer, pipeline.content, pipeline.f0
    seen: list[tuple[str, bool, bool, bool]] = []

    def loaded() -> tuple[bool, bool, bool]:
        return synth._module is not None, content._encoder is not None, f0._estimate is not None

    def watch(name, fn):
        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            seen.append((name, *loaded()))
            return out

        return wrapped

    object.__setattr__(content, "extract", watch("extract", content.extract))
    object.__setattr__(synth, "infer", watch("infer", lambda *a, **k: synth.get().infer(*a, **k)))
    f0_inner = f0.factory
    f0.factory = lambda method: watch("f0", f0_inner(method))
    try:
        first, _ = pipeline.convert_array(x, sr)
        assert loaded() == (False, False, False)  # nothing held between conversions
        second, _ = pipeline.convert_array(x, sr)
    finally:
        for obj, name in ((content, "extract"), (synth, "infer")):
            object.__delattr__(obj, name)
        f0.factory = f0_inner
    # (pass, synthesizer loaded, content encoder loaded, pitch model loaded)
    one_conversion = [
        ("f0", False, False, True),
        ("extract", False, True, False),
        ("infer", True, False, False),
    ]
    assert seen == 2 * one_conversion
    np.testing.assert_array_equal(first, second)


def test_offline_end_to_end_from_wav(pipeline, pipeline_golden, reference_dir):
    g = pipeline_golden
    x, sr = sf.read(reference_dir / "pipeline_v2_40k.wav", dtype="float32")
    pipeline.trace = []
    y, rate = pipeline.convert_array(x, sr)
    trace = pipeline.trace[0]
    pipeline.trace = None
    assert rate == 40000 and len(y) == len(g["output_int16"])
    assert np.abs(trace.feats.numpy() - g["hubert_feats"]).max() <= 1e-4
    assert (trace.retrieval.ids == g["index_ix"]).all(axis=1).mean() >= 0.95
    np.testing.assert_array_equal(trace.pitch.numpy(), g["pitch"])
    assert snr_db(g["audio_rms_mixed"], y * np.float32(32768) / 32768) >= 30
    # the synthesizer given the golden inputs
    audio = pipeline.synthesize(
        torch.from_numpy(g["feats_interp"]), 498, torch.from_numpy(g["pitch"]), torch.from_numpy(g["pitchf"])
    )
    assert np.abs(audio - g["synth_audio"]).max() <= 1e-5


@pytest.fixture(scope="module")
def realtime_voice(files):
    voice = open_realtime_voice(
        files["voice"],
        files["hubert"],
        files["rmvpe"],
        files["index"],
        RealtimeConfig(block_time=0.25, crossfade_time=0.05, extra_time=0.5),
        VoiceParams(pitch=3, index_rate=0.75, f0_method="rmvpe"),
    )
    voice.core.synthesizer.noise = ZERO_NOISE
    return voice


def test_realtime_blocks_end_to_end(realtime_voice, realtime_golden):
    g = realtime_golden
    core = realtime_voice.core
    state = core.new_state()
    for b in range(len(g["block_in_40k"])):
        out = core.process(g["block_in_40k"][b], state, realtime_voice.params)
        np.testing.assert_array_equal(state.ring, g["input_wav_40k"][b])
        assert np.abs(core.trace.f0_in.numpy() - g["f0_in"][b]).max() <= 2e-7
        assert (core.trace.pitch.numpy()[0] == g["net_pitch"][b]).mean() >= 0.95
        assert out.shape == g["output"][b].shape
        assert snr_db(g["output"][b], out) >= 30
        if b not in (0, 5):
            continue
        # the synthesizer given the golden net inputs (tail-only call)
        with torch.inference_mode():
            given = core.synthesize(
                torch.from_numpy(g["feats_blended"][b])[None],
                torch.from_numpy(g["net_pitch"][b])[None],
                torch.from_numpy(g["net_pitchf"][b])[None],
            )
        assert np.abs(given - g["output"][b]).max() <= 1e-5


def test_realtime_voice_steps_hops_through_sola(realtime_voice):
    voice = realtime_voice
    assert (voice.kind, voice.sample_rate, voice.hop, voice.latency) == (VoiceKind.RVC, 40000, 10000, 2400)
    state = voice.init_state()
    rng = np.random.default_rng(0)
    for _ in range(1):
        y, state = voice.step((0.1 * rng.standard_normal(voice.hop)).astype(np.float32), state)
        assert y.shape == (voice.hop,) and y.dtype == np.float32 and np.isfinite(y).all()
    voice.set_params(VoiceParams(pitch=-5, index_rate=0.0, f0_method="rmvpe"))
    y, state = voice.step(np.zeros(voice.hop, np.float32), state)
    assert y.shape == (voice.hop,)
    voice.set_params(VoiceParams(pitch=3, index_rate=0.75, f0_method="rmvpe"))


def test_streaming_agrees_with_file_conversion_at_the_reported_latency(files, reference_dir):
    """Streaming vs whole-file conversion of the same signal, no-f0 voice (no NSF phase).

    Metric: waveform SNR of the latency-compensated stream against the file conversion, in the
    interior of every block (the first and last 50 ms of each block are left out). Both outputs
    see different context (0.5 s of left context vs the whole file) and the rule-weight HuBERT
    and text encoder attend globally, so the agreement is partial; it must be clearly positive
    at exactly the reported latency and vanish one sample either side.
    """
    voice_path = write_voice_file(
        files["voice"].parent / "nof0.pth",
        manifest=load_manifest(reference_dir / "manifest_rvc_v2_nof0_48k.json"),
    )
    x16, _ = sf.read(reference_dir / "pipeline_v2_40k.wav", dtype="float32")
    x = resample_poly(x16[:14000], 3, 1).astype(np.float32)
    voice = open_realtime_voice(voice_path, files["hubert"], None, None, RealtimeConfig(), VoiceParams())
    voice.core.synthesizer.noise = ZERO_NOISE
    state, hop, lat = voice.init_state(), voice.hop, voice.latency
    padded = np.concatenate([x, np.zeros(2 * hop - len(x) % hop, np.float32)])
    stream = np.concatenate(
        [voice.step(padded[i : i + hop], state)[0].copy() for i in range(0, len(padded), hop)]
    )
    core = voice.core  # the same loaded models serve the file conversion
    pipe = RvcPipeline(
        core.synthesizer, 48000, RvcVersion.V2, core.content, None, None, PipelineConfig(rms_mix_rate=1.0)
    )
    whole = pipe.convert_float(x, 48000)
    edge = voice.sample_rate // 20
    interior = np.concatenate(
        [np.arange(k * hop + edge, (k + 1) * hop - edge) for k in range(1, len(whole) // hop)]
    )

    def agreement(lag: int) -> float:
        return snr_db(whole[interior], stream[interior + lat + lag])

    at_latency = agreement(0)
    assert at_latency >= 3.0
    assert max(agreement(-1), agreement(1)) <= at_latency - 3.0


def test_v1_voice_with_a_v2_index_converts_without_retrieval(files, reference_dir, tmp_path, caplog):
    voice = write_voice_file(
        tmp_path / "v1.pth", manifest=load_manifest(reference_dir / "manifest_rvc_v1_f0_40k.json")
    )
    with caplog.at_level("WARNING"):
        pipe = open_pipeline(
            voice, files["hubert"], files["rmvpe"], files["index"], "rmvpe", PipelineConfig()
        )
    assert pipe.index is None and "retrieval disabled" in caplog.text
    assert pipe.version is RvcVersion.V1
    x = (0.3 * np.sin(2 * np.pi * 140 * np.arange(8000) / 16000)).astype(np.float32)
    y, rate = pipe.with_config(output_rate=16000).convert_array(x, 16000)
    assert rate == 16000 and abs(len(y) - len(x)) <= 2 * 160 and np.isfinite(y).all()
