"""The weight rule regenerates every tensor of every reference manifest bit for bit."""

import pytest

from models.testing import check_rule_weights, load_manifest, rule_weights

MANIFESTS = [
    "manifest_llvc.json",
    "manifest_rvc_v2_f0_40k.json",
    "manifest_rvc_v1_f0_40k.json",
    "manifest_rvc_v2_nof0_48k.json",
    "manifest_rmvpe.json",
    "manifest_hubert_base.json",
]


@pytest.mark.parametrize("name", MANIFESTS)
def test_rule_weights_match_manifest_hashes(reference_dir, name):
    manifest = load_manifest(reference_dir / name)
    weights = rule_weights(manifest)
    assert len(weights) == len(manifest["state_dict"]["tensors"])
    check_rule_weights(manifest, weights)
