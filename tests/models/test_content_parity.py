"""HuBERT/ContentVec parity: a rule-weight ``hubert_base.pt`` in the real fairseq container,
loaded through the user-facing path, matches the reference (fairseq) golden layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.checkpoint import FAIRSEQ_FOREIGN, detect, safe_load
from models.content import load_content_encoder
from models.content.testing import write_hubert_checkpoint
from models.errors import ModelFormatError
from models.kinds import ModelKind
from models.testing import check_rule_weights, load_manifest, rule_weights

TOL = 1e-4  # README: HuBERT layers, max abs diff


@pytest.fixture(scope="module")
def manifest(reference_dir):
    return load_manifest(reference_dir / "manifest_hubert_base.json")


@pytest.fixture(scope="module")
def weights(manifest):
    w = rule_weights(manifest)
    check_rule_weights(manifest, w)
    return w


@pytest.fixture(scope="module")
def hubert_file(tmp_path_factory, manifest, weights):
    return write_hubert_checkpoint(tmp_path_factory.mktemp("hubert") / "hubert_base.pt", manifest, weights)


@pytest.fixture(scope="module")
def encoder(hubert_file):
    return load_content_encoder(hubert_file)


@pytest.fixture(scope="module")
def golden(reference_dir):
    return dict(np.load(reference_dir / "golden_hubert_base.npz"))


def test_fixture_is_a_fairseq_container_with_a_pickled_dictionary(hubert_file):
    with pytest.raises(ModelFormatError):
        safe_load(hubert_file)  # the foreign Dictionary class is really in the pickle
    ckpt = safe_load(hubert_file, allow_foreign=FAIRSEQ_FOREIGN)
    assert {"args", "cfg", "model", "optimizer_history", "task_state", "extra_state"} <= set(ckpt)
    assert ckpt["args"] is None and ckpt["cfg"]["model"]["_name"] == "hubert"
    dictionary = ckpt["task_state"]["dictionaries"][0]
    assert dictionary.foreign_name == "fairseq.data.dictionary.Dictionary"
    assert len(dictionary.symbols) == 504 and dictionary.pad_index == 1
    assert all(t.dtype == torch.float16 for t in ckpt["model"].values())
    assert detect(hubert_file).kind is ModelKind.HUBERT


@pytest.mark.parametrize(
    ("name", "layer", "final_proj", "dim"),
    [("layer9", 9, False, 768), ("layer9_final_proj", 9, True, 256), ("layer12", 12, False, 768)],
)
def test_layers_match_golden(encoder, golden, name, layer, final_proj, dim):
    out = encoder.extract(torch.from_numpy(golden["source"]), layer, final_proj)
    assert out.shape == (1, 49, dim) and out.dtype == torch.float32
    assert (out - torch.from_numpy(golden[name])).abs().max().item() <= TOL


def test_conv_features_match_golden(encoder, golden):
    out = encoder.conv_features(golden["source"])
    assert out.shape == (1, 512, 49)
    assert (out - torch.from_numpy(golden["conv_features"])).abs().max().item() <= TOL


def test_rvc_100hz_features_are_the_doubled_layer12(encoder, golden):
    feats = torch.from_numpy(golden["layer12"])  # layer 12 itself is checked above
    doubled = torch.nn.functional.interpolate(feats.permute(0, 2, 1), scale_factor=2).permute(0, 2, 1)
    assert torch.equal(doubled, torch.from_numpy(golden["rvc_v2_feats_100hz"]))


def test_realtime_blocks_match_reference_hubert(encoder, reference_dir):
    rt = np.load(reference_dir / "realtime_v2_40k.npz")
    blocks = [1, 5]  # block 1 still has zeros from the ring's start; block 5 is all signal
    out = encoder.extract(torch.from_numpy(rt["input_wav_16k"][blocks]), 12)
    assert out.shape == (2, 40, 768)
    assert (out - torch.from_numpy(rt["hubert_raw"][blocks])).abs().max().item() <= TOL


def test_only_the_requested_blocks_run(encoder, golden):
    ran: list[int] = []
    hooks = [
        block.register_forward_hook(lambda *_, i=i: ran.append(i))
        for i, block in enumerate(encoder.net.encoder.layers)
    ]
    try:
        encoder.extract(golden["source"][:, :4000], 3)
    finally:
        for h in hooks:
            h.remove()
    assert ran == [0, 1, 2]


def test_batch_rows_are_independent(encoder, golden):
    x = torch.from_numpy(golden["source"])[:, :3200]
    both = encoder.extract(torch.cat([x, 0.5 * x]), 4)
    assert (both[1:] - encoder.extract(0.5 * x, 4)).abs().max().item() <= 1e-5


def test_bad_inputs_and_layers_are_refused(encoder):
    with pytest.raises(ValueError, match="layer"):
        encoder.extract(torch.zeros(1, 16000), 13)
    with pytest.raises(ValueError, match="too short"):
        encoder.extract(torch.zeros(1, 300), 12)


_TO_TORCHAUDIO = [
    ("feature_extractor.conv_layers.0.2.", "feature_extractor.conv_layers.0.layer_norm."),
    ("layer_norm.", "encoder.feature_projection.layer_norm."),
    ("post_extract_proj.", "encoder.feature_projection.projection."),
    ("encoder.pos_conv.0.", "encoder.transformer.pos_conv_embed.conv."),
    ("encoder.layer_norm.", "encoder.transformer.layer_norm."),
]


def _torchaudio_name(key: str) -> str:
    for old, new in _TO_TORCHAUDIO:
        if key.startswith(old):
            return new + key[len(old) :]
    key = key.replace(".0.weight", ".conv.weight") if key.startswith("feature_extractor") else key
    for old, new in [
        ("self_attn_layer_norm", "layer_norm"),
        ("self_attn.", "attention."),
        ("fc1.", "feed_forward.intermediate_dense."),
        ("fc2.", "feed_forward.output_dense."),
    ]:
        key = key.replace(old, new)
    return key.replace("encoder.layers.", "encoder.transformer.layers.")


def test_torchaudio_style_state_dict_loads_the_same_model(tmp_path, weights, encoder, golden):
    # Two blocks only (small file): the loader infers the depth from the tensors.
    kept = {
        k: v for k, v in weights.items() if not k.startswith("encoder.layers.") or k.split(".")[2] in "01"
    }
    state = {_torchaudio_name(k): v for k, v in kept.items() if k not in ("mask_emb", "final_proj.weight")}
    state.pop("final_proj.bias")
    torch.save(state, tmp_path / "hubert_torchaudio.pth")
    small = load_content_encoder(tmp_path / "hubert_torchaudio.pth")
    assert small.config.layers == 2 and small.config.final_dim == 0
    x = golden["source"]
    assert (small.extract(x, 2) - encoder.extract(x, 2)).abs().max().item() <= 1e-5


def test_wrong_or_broken_files_get_one_line_errors(tmp_path, weights, manifest):
    rvc = tmp_path / "voice.pth"
    torch.save(
        {"weight": {"enc_p.emb_phone.weight": torch.zeros(192, 768)}, "config": [1], "version": "v2"}, rvc
    )
    with pytest.raises(ModelFormatError, match="expected a HuBERT") as err:
        load_content_encoder(rvc)
    assert "\n" not in str(err.value)

    # one block (small file) that lacks its fc2 weight
    broken = {
        k: v
        for k, v in weights.items()
        if (not k.startswith("encoder.layers.") or k.startswith("encoder.layers.0."))
        and "0.fc2.weight" not in k
    }
    path = write_hubert_checkpoint(tmp_path / "broken.pt", manifest, broken)
    with pytest.raises(ModelFormatError, match=r"encoder\.layers\.0\.fc2\.weight"):
        load_content_encoder(path)

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(ModelFormatError):
        load_content_encoder(truncated)


def test_legacy_args_namespace_and_other_fairseq_models(tmp_path, weights, manifest, golden):
    from models.content.loader import build_hubert, split_container

    small = {k: v for k, v in weights.items() if not k.startswith("encoder.layers.") or ".layers.0." in k}

    class Args:  # what safe_load returns for a pickled argparse.Namespace
        def __init__(self) -> None:
            self.state = {"arch": "hubert", "encoder_attention_heads": 12, "layer_norm_first": False}

    state, cfg = split_container({"args": Args(), "cfg": None, "model": small}, "legacy.pt")
    assert cfg["_name"] == "hubert" and build_hubert(state, cfg, "legacy.pt").cfg.layers == 1
    with pytest.raises(ModelFormatError, match="wav2vec2"):
        split_container({"cfg": {"model": {"_name": "wav2vec2"}}, "model": small}, "w2v.pt")
