"""models.voices: one resolver for built-in names and user voice files (RVC, LLVC)."""

from __future__ import annotations

import numpy as np
import pytest

from models.base import VoiceParams
from models.errors import ModelFormatError, VoiceNotFoundError
from models.kinds import RvcVersion, VoiceKind
from models.voices import VoiceFileOptions, resolve_voice, sibling_index
from tests.conftest import REFERENCE


def test_builtin_name_resolves_at_the_requested_rate():
    voice = resolve_voice("deeper", sample_rate=44100, hop=128)
    assert voice.kind is VoiceKind.BUILTIN and voice.name == "deeper"
    assert (voice.sample_rate, voice.hop) == (44100, 128)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(VoiceNotFoundError, match="deeper"):
        resolve_voice("no-such-voice")


def test_missing_voice_file_is_reported(tmp_path):
    with pytest.raises(VoiceNotFoundError, match="no voice file"):
        resolve_voice(str(tmp_path / "gone.pth"))


def test_llvc_checkpoint_resolves_with_its_config(tmp_path):
    from models.llvc.testing import write_rule_checkpoint

    ckpt, _ = write_rule_checkpoint(tmp_path, REFERENCE / "manifest_llvc.json")
    voice = resolve_voice(str(ckpt))
    assert voice.kind is VoiceKind.LLVC and voice.sample_rate == 16000
    state = voice.init_state()
    x = 0.01 * np.sin(np.arange(voice.hop) * 0.05).astype(np.float32)
    y, state = voice.step(x, state)
    assert y.shape == (voice.hop,) and np.isfinite(y).all() and np.abs(y).max() > 0


def test_rvc_voice_file_resolves_to_a_streaming_voice_with_its_index(tmp_path):
    import faiss

    from models.content.testing import write_tiny_hubert
    from models.rvc.testing import tiny_config, write_voice_file

    hubert = write_tiny_hubert(tmp_path / "hubert_base.pt", REFERENCE / "manifest_hubert_base.json")
    voice_path = write_voice_file(tmp_path / "alice.pth", tiny_config(RvcVersion.V1, f0=True))
    index = faiss.IndexFlatL2(256)
    index.add(np.random.default_rng(0).standard_normal((64, 256)).astype(np.float32))
    faiss.write_index(index, str(tmp_path / "added_alice_v1.index"))
    assert sibling_index(voice_path) == tmp_path / "added_alice_v1.index"

    options = VoiceFileOptions(hubert=hubert, rvc_block_time=0.1, rvc_extra_time=0.2)
    voice = resolve_voice(str(voice_path), params=VoiceParams(f0_method="dsp"), options=options)
    assert voice.kind is VoiceKind.RVC and voice.params.f0_method == "dsp"
    state = voice.init_state()
    t = np.arange(voice.hop) / voice.sample_rate
    y, state = voice.step((0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), state)
    assert y.shape == (voice.hop,) and np.isfinite(y).all()


def test_a_non_voice_model_file_is_refused(tmp_path):
    from models.content.testing import write_tiny_hubert

    hubert = write_tiny_hubert(tmp_path / "hubert_base.pt", REFERENCE / "manifest_hubert_base.json")
    with pytest.raises(ModelFormatError, match="not a voice"):
        resolve_voice(str(hubert))
