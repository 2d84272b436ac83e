"""FAISS retrieval: community index loading quirks, broken files, the train_index recipe."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from models.retrieval import (
    FeatureIndex,
    IndexLoadError,
    blend,
    build_index,
    clean_index_path,
    ivf_lists,
    load_index_or_none,
)


def test_clean_path_quirks():
    assert clean_index_path(' "/x/trained_IVF7_Flat.index"\n') == "/x/added_IVF7_Flat.index"


def test_index_name_falls_back_to_added(reference_dir, tmp_path):
    shutil.copy(reference_dir / "pipeline_v2_40k.index", tmp_path / "added_IVF76_Flat_v2.index")
    index = FeatureIndex.load(f'"{tmp_path / "trained_IVF76_Flat_v2.index"}"\n')
    assert (index.size, index.dim) == (3000, 768)


def test_reconstructed_vectors_are_in_id_order(reference_dir):
    index = FeatureIndex.load(reference_dir / "pipeline_v2_40k.index")
    rng = np.random.default_rng(20240604)
    vecs = rng.standard_normal((3000, 768), dtype=np.float32)
    np.random.seed(3000)
    order = np.arange(3000)
    np.random.shuffle(order)
    np.testing.assert_array_equal(index.vectors, vecs[order])


@pytest.mark.parametrize("content", [b"", b"not an index at all", b"IwFl" + b"\x00" * 40])
def test_broken_index_warns_and_disables(tmp_path, caplog, content):
    path = tmp_path / "added_broken.index"
    path.write_bytes(content)
    with pytest.raises(IndexLoadError):
        FeatureIndex.load(path)
    with caplog.at_level(logging.WARNING):
        assert load_index_or_none(path) is None
    assert "retrieval disabled" in caplog.text


def test_missing_and_wrong_dim_index(reference_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_index_or_none(tmp_path / "nope.index") is None
        assert load_index_or_none(reference_dir / "pipeline_v2_40k.index", dim=256) is None
    assert "256" in caplog.text
    assert load_index_or_none(None) is None


def test_inverse_square_weights():
    vectors = np.eye(4, dtype=np.float32) * 10
    import faiss

    flat = faiss.IndexFlatL2(4)
    flat.add(vectors)
    index = FeatureIndex(flat, vectors)
    query = np.array([[9.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    result = index.retrieve(query, k=2)
    d = result.score[0]
    w = (1 / d) ** 2
    w /= w.sum()
    np.testing.assert_allclose(
        result.retrieved[0], w[0] * vectors[result.ids[0, 0]] + w[1] * vectors[result.ids[0, 1]], rtol=1e-6
    )
    np.testing.assert_allclose(blend(query, result.retrieved, 0.0), query)


def test_missing_neighbours_get_zero_weight():
    import faiss

    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    flat = faiss.IndexFlatL2(2)
    flat.add(vectors)
    index = FeatureIndex(flat, vectors)
    result = index.retrieve(np.array([[1.0, 0.1]], dtype=np.float32), k=8)  # only 2 exist
    assert not result.all_valid
    assert np.isfinite(result.retrieved).all()
    assert np.abs(result.retrieved[0] - vectors[0]).max() < 0.02


def test_build_index_recipe(tmp_path):
    assert ivf_lists(3000) == 76
    assert ivf_lists(10) == 1
    feats = np.random.default_rng(0).standard_normal((500, 16), dtype=np.float32)
    path = build_index(feats, tmp_path / "sub" / "added_test.index")
    index = FeatureIndex.load(path)
    assert index.size == 500 and index.dim == 16
    assert index.index.nlist == ivf_lists(500)  # type: ignore[attr-defined]
    # every stored vector is one of the inputs, and finds itself
    _score, ids = index.search(index.vectors[:5], k=1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(5))
    assert not list(tmp_path.glob("sub/.tmp-*"))
