"""Realtime RVC block path vs the reference golden ``realtime_v2_40k``, block by block before SOLA.

Each stage gets the golden input of that stage (the golden resampled tail for the 16 kHz ring,
the golden HuBERT output for retrieval, the golden tracker output for the f0 caches).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.kinds import RvcVersion
from models.retrieval import FeatureIndex
from models.rvc import glue
from models.rvc.realtime import BlockGeometry, BlockState, RealtimeConfig, RealtimeCore, gate

BLOCKS = 6


@pytest.fixture(scope="module")
def golden(reference_dir):
    with np.load(reference_dir / "realtime_v2_40k.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def core(reference_dir):
    index = FeatureIndex.load(reference_dir / "pipeline_v2_40k.index")
    return RealtimeCore(torch.nn.Identity(), 40000, RvcVersion.V2, content=None, f0_factory=None, index=index)  # type: ignore[arg-type]


def test_geometry_matches_reference():
    g = BlockGeometry.of(40000, RealtimeConfig(block_time=0.25, crossfade_time=0.05, extra_time=0.5))
    assert (g.zc, g.block, g.block16k, g.crossfade_frame, g.sola_buffer, g.sola_search, g.extra) == (
        400,
        10000,
        4000,
        2000,
        1600,
        400,
        20000,
    )
    assert (g.ring, g.ring16k, g.skip_head, g.return_length, g.p_len) == (32400, 12960, 50, 30, 81)
    assert g.f0_samples("rmvpe") == 4960
    assert g.f0_samples("fcpe") == 4800
    assert g.output_length == g.sola_buffer + g.sola_search + g.block
    assert g.latency == 2400


@pytest.mark.parametrize("rate", [32000, 48000])
def test_geometry_other_rates(rate):
    g = BlockGeometry.of(rate, RealtimeConfig(block_time=0.1, crossfade_time=0.05, extra_time=0.5))
    assert g.block16k == 1600 and g.ring16k * rate == g.ring * 16000
    assert g.output_length == g.sola_buffer + g.sola_search + g.block


def test_rings_resampler_and_f0_slice(core, golden):
    ours, fed = core.new_state(), core.new_state()
    for b in range(BLOCKS):
        core.push(golden["block_in_40k"][b], ours)
        np.testing.assert_array_equal(ours.ring, golden["input_wav_40k"][b])
        assert np.abs(core.trace.resampled.numpy() - golden["resampled_tail_16k"][b]).max() <= 2e-7
        core.push(golden["block_in_40k"][b], fed, torch.from_numpy(golden["resampled_tail_16k"][b]))
        np.testing.assert_array_equal(fed.ring16k.numpy(), golden["input_wav_16k"][b])
        f0_in = fed.ring16k[-core.geometry.f0_samples("rmvpe") :]
        np.testing.assert_array_equal(f0_in.numpy(), golden["f0_in"][b])
        assert np.abs(ours.ring16k.numpy() - golden["input_wav_16k"][b]).max() <= 2e-7


def test_resample_kernel_is_torchaudio(core, golden):
    kernel = core.resampler.kernel
    assert tuple(kernel.shape) == golden["resample_kernel"].shape
    assert np.abs(kernel.numpy() - golden["resample_kernel"]).max() <= 1e-7


def test_coarse_pitch_and_caches(core, golden):
    state = core.new_state()
    for b in range(BLOCKS):
        pitchf_new = torch.from_numpy(golden["f0_pitchf"][b])
        np.testing.assert_array_equal(glue.coarse_pitch_torch(pitchf_new).numpy(), golden["f0_pitch"][b])
        pitch, pitchf = core.update_pitch_cache(pitchf_new, state)
        np.testing.assert_array_equal(state.cache_pitch.numpy(), golden["cache_pitch_after"][b])
        np.testing.assert_array_equal(state.cache_pitchf.numpy(), golden["cache_pitchf_after"][b])
        np.testing.assert_array_equal(pitch.numpy()[0], golden["net_pitch"][b])
        np.testing.assert_array_equal(pitchf.numpy()[0], golden["net_pitchf"][b])


def test_retrieval_on_new_frames_and_net_phone(core, golden):
    g = core.geometry
    for b in range(BLOCKS):
        feats = torch.from_numpy(golden["hubert_raw"][b])[None]
        feats = torch.cat((feats, feats[:, -1:]), 1)
        blended = core.retrieve(feats, 0.75)
        result = core.trace.retrieval
        np.testing.assert_array_equal(result.ids, golden["index_ix"][b])
        np.testing.assert_allclose(result.score, golden["index_score"][b], rtol=1e-5)
        assert np.abs(blended.numpy()[0] - golden["feats_blended"][b]).max() <= 1e-5
        phone = glue.upsample2(blended)[:, : g.p_len]
        assert np.abs(phone.numpy()[0] - golden["net_phone"][b]).max() <= 1e-5
        assert int(golden["net_p_len"][b]) == g.p_len
        assert int(golden["net_skip_head"][b]) == g.skip_head
        assert int(golden["net_return_length"][b]) == g.return_length


def test_gate_zeroes_quiet_frames():
    zc = 400
    state = BlockState(
        ring=np.zeros(1),
        ring16k=torch.zeros(1),
        cache_pitch=torch.zeros(1),
        cache_pitchf=torch.zeros(1),
        gate_tail=np.zeros(4 * zc, np.float32),
    )
    block = np.full(10 * zc, 0.5, dtype=np.float32)
    block[6 * zc :] = 1e-5
    out = gate(block, state, zc, threshold_db=-40)
    assert np.all(out[: 4 * zc] == 0.5)
    assert np.all(out[9 * zc :] == 0) and np.all(out[6 * zc : 9 * zc] == np.float32(1e-5))
    assert gate(block, state, zc, threshold_db=-60) is block


def test_short_blocks_keep_the_sola_crossfade_within_the_block():
    g = BlockGeometry.of(40000, RealtimeConfig(block_time=0.02, crossfade_time=0.02, extra_time=0.1))
    assert g.sola_buffer <= g.block == 800
    assert g.output_length == g.sola_buffer + g.sola_search + g.block


def test_live_pitch_falls_back_to_fcpe_without_rmvpe(tmp_path, caplog):
    from models.rvc.inference import MissingModelError, _live_f0_factory, make_f0_factory

    with pytest.raises(MissingModelError, match=r"rmvpe\.pt"):
        make_f0_factory(tmp_path / "missing.pt")("rmvpe")
    with caplog.at_level("WARNING"):
        estimate = _live_f0_factory(tmp_path / "missing.pt", "cpu")("rmvpe")
    assert "fcpe" in caplog.text
    x = (0.5 * np.sin(2 * np.pi * 220 * np.arange(4800) / 16000)).astype(np.float32)
    f0 = estimate(x)
    assert f0.shape == (31,)
    assert np.median(f0[5:-5]) == pytest.approx(220, rel=0.03)
