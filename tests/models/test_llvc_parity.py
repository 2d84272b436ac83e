"""LLVC parity with the reference goldens, and the streaming/latency contract of the voice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from models.llvc import LLVCVoice, load_voice, stream_reference
from models.llvc.testing import write_rule_checkpoint

TOL = 1e-5  # reference README: LLVC audio within 1e-5 on CPU


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Batch-1 streaming gains nothing from a second thread and spins badly on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # write_rule_checkpoint checks every tensor's sha256_16 against the manifest
    return write_rule_checkpoint(tmp_path_factory.mktemp("llvc"))


@pytest.fixture(scope="module")
def golden(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "golden_llvc.npz") as g:
        return {k: g[k] for k in g.files}


@pytest.fixture(scope="module")
def voice(checkpoint: tuple[Path, Path]) -> LLVCVoice:
    return load_voice(checkpoint[0], checkpoint[1])


def _run(voice: LLVCVoice, x: np.ndarray) -> np.ndarray:
    state = voice.init_state()
    out = [voice.step(x[i : i + voice.hop], state)[0] for i in range(0, len(x), voice.hop)]
    return np.concatenate(out)


def _whole(voice: LLVCVoice, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return voice.net(torch.from_numpy(x)[None, None])[0, 0].numpy()


def test_whole_signal_matches_golden(voice: LLVCVoice, golden: dict[str, np.ndarray]) -> None:
    y = _whole(voice, golden["audio"])
    assert y.shape == (16000,)
    np.testing.assert_allclose(y, golden["out_nonstream"][0], rtol=0, atol=TOL)


def test_reference_streaming_matches_golden(voice: LLVCVoice, golden: dict[str, np.ndarray]) -> None:
    y = stream_reference(voice, golden["audio"], 1)
    assert y.shape == golden["out_stream"].shape
    np.testing.assert_allclose(y, golden["out_stream"], rtol=0, atol=TOL)


def test_step_on_reference_windows_matches_golden(voice: LLVCVoice, golden: dict[str, np.ndarray]) -> None:
    """``step`` on windows with their 2L samples of front context is the reference call."""
    L, hop = voice.config.L, voice.config.chunk_len
    audio = np.pad(golden["audio"], (0, (-16000) % hop))
    shifted = np.concatenate([audio[L:], np.zeros(L, np.float32)])
    padded = np.concatenate([np.zeros(2 * L, np.float32), shifted])
    state = voice.init_state()
    out = [voice.step(padded[i : i + hop + 2 * L], state)[0] for i in range(0, len(shifted), hop)]
    np.testing.assert_allclose(np.concatenate(out)[:16000], golden["out_stream"][0], rtol=0, atol=TOL)


@pytest.mark.parametrize("factor", [2, 4])
def test_reference_streaming_carries_state_at_larger_chunks(
    voice: LLVCVoice, golden: dict[str, np.ndarray], factor: int
) -> None:
    """Reference procedure at factor k == k chunks per call through the fast path's carried state."""
    ref = stream_reference(voice, golden["audio"], factor)[0]
    L, hop = voice.config.L, voice.config.chunk_len * factor
    audio = np.pad(golden["audio"], (0, (-16000) % hop))
    shifted = np.concatenate([audio[L:], np.zeros(L, np.float32)])
    padded = np.concatenate([np.zeros(2 * L, np.float32), shifted])
    state = voice.init_state()
    out = [voice.step(padded[i : i + hop + 2 * L], state)[0] for i in range(0, len(shifted), hop)]
    np.testing.assert_allclose(np.concatenate(out)[:16000], ref, rtol=0, atol=TOL)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_realtime_step_is_whole_signal_delayed_by_latency(
    checkpoint: tuple[Path, Path], golden: dict[str, np.ndarray], factor: int
) -> None:
    """Timing contract: y[n] == net(x)[n - latency], with latency = L samples beyond one hop."""
    voice = load_voice(checkpoint[0], checkpoint[1], chunk_factor=factor)
    assert (voice.hop, voice.latency, voice.sample_rate) == (208 * factor, 16, 16000)
    x = np.pad(golden["audio"], (0, (-16000) % 832))  # same length for every factor
    y = _run(voice, x)
    assert y.shape == x.shape and y.dtype == np.float32
    delayed = _whole(voice, np.concatenate([np.zeros(voice.latency, np.float32), x]))
    # the whole-signal forward zero-pads its last decoder chunk; compare before it
    n = len(x) - 2 * voice.config.chunk_len
    np.testing.assert_allclose(y[:n], delayed[:n], rtol=0, atol=TOL)
    # and the lag against the undelayed whole-signal output is exactly the latency
    plain = _whole(voice, x)
    lags = np.arange(-64, 65)
    err = [np.mean((y[100 + k : n + k] - plain[100:n]) ** 2) if k >= 0 else np.inf for k in lags]
    assert lags[int(np.argmin(err))] == voice.latency


def test_chunk_factors_agree_everywhere(checkpoint: tuple[Path, Path], golden: dict[str, np.ndarray]) -> None:
    """Consistency: realtime output at factors 2 and 4 equals factor 1 at every sample (within 1e-5)."""
    x = np.pad(golden["audio"], (0, (-16000) % 832))
    outs = {f: _run(load_voice(checkpoint[0], checkpoint[1], chunk_factor=f), x) for f in (1, 2, 4)}
    np.testing.assert_allclose(outs[2], outs[1], rtol=0, atol=TOL)
    np.testing.assert_allclose(outs[4], outs[1], rtol=0, atol=TOL)


def test_states_are_independent(voice: LLVCVoice, golden: dict[str, np.ndarray]) -> None:
    x = golden["audio"][: 20 * voice.hop]
    alone = _run(voice, x)
    a, b = voice.init_state(), voice.init_state()
    out = []
    for i in range(0, len(x), voice.hop):
        out.append(voice.step(x[i : i + voice.hop], a)[0].copy())
        voice.step(-x[i : i + voice.hop], b)  # interleaved second stream
    np.testing.assert_array_equal(np.concatenate(out), alone)
