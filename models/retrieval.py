"""Feature retrieval with community RVC ``.index`` files (FAISS), as the reference pipeline does.

An RVC voice often ships with an ``added_IVF<n>_Flat_nprobe_1_<name>_v2.index``: the training
set's content features in a FAISS IVF-Flat index. At inference every content frame is replaced
in part by a weighted mean of its ``k = 8`` nearest stored vectors (weights ``1/d²`` where ``d``
is faiss' *squared* L2 distance, normalised per row), blended by ``index_rate``. This pulls the
timbre towards the training speaker.

A broken or mismatched index never stops a conversion: :func:`load_index_or_none` logs a warning
and retrieval is switched off, like the reference (which prints a traceback and carries on).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.errors import VoxshiftError

log = logging.getLogger(__name__)

K_NEIGHBOURS = 8
"""The reference always asks for 8 neighbours."""


class IndexLoadError(VoxshiftError):
    """An ``.index`` file cannot be used (missing, broken, not FAISS, or the wrong feature size)."""


def clean_index_path(path: str | os.PathLike[str]) -> str:
    """Apply the reference's path quirks: strip spaces, quotes and newlines; ``trained`` -> ``added``.

    Users paste paths with quotes, and the WebUI writes both a ``trained_*.index`` (centroids
    only, no vectors) and an ``added_*.index``: the reference silently uses the ``added`` one.
    """
    text = str(path).strip(" ").strip('"').strip("\n").strip('"').strip(" ")
    head, sep, name = text.rpartition(os.sep)
    added = head + sep + name.replace("trained", "added")
    # the reference replaces unconditionally; keep the given name if no 'added' file sits beside it
    return added if os.path.exists(added) or not os.path.exists(text) else text


@dataclass(frozen=True)
class RetrievalResult:
    """One search: ``score``/``ids`` ``[T, k]`` (ascending squared L2) and the blended mean ``[T, C]``."""

    score: np.ndarray
    ids: np.ndarray
    retrieved: np.ndarray
    all_valid: bool
    """True when every returned id is >= 0 (the realtime path skips retrieval otherwise)."""


class FeatureIndex:
    """A loaded FAISS index plus its reconstructed vectors ``[N, C]`` (float32, row i = id i)."""

    def __init__(self, index: object, vectors: np.ndarray, path: str = "") -> None:
        self.index = index
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.path = path

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def size(self) -> int:
        return int(self.vectors.shape[0])

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureIndex:
        """Read an index file (after :func:`clean_index_path`) and reconstruct all its vectors."""
        import faiss

        cleaned = clean_index_path(path)
        if not os.path.isfile(cleaned):
            raise IndexLoadError(f"index file not found: {cleaned}")
        try:
            index = faiss.read_index(cleaned)
            ntotal = int(index.ntotal)
            if ntotal <= 0:
                raise IndexLoadError(
                    f"{cleaned} holds no vectors (a 'trained_' index?): use the 'added_' one"
                )
            vectors = index.reconstruct_n(0, ntotal)
        except IndexLoadError:
            raise
        except RuntimeError as exc:  # faiss raises RuntimeError for any format problem
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise IndexLoadError(f"{cleaned} is not a readable FAISS index ({first[:200]})") from exc
        return cls(index, vectors, cleaned)

    def search(self, query: np.ndarray, k: int = K_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
        """``query [T, C]`` float32 -> ``(score [T, k] float32, ids [T, k] int64)`` from faiss."""
        q = np.ascontiguousarray(query, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise IndexLoadError(f"index has {self.dim}-dim vectors but the features have shape {q.shape}")
        score, ids = self.index.search(q, k)  # type: ignore[attr-defined]
        return score, ids

    def retrieve(self, query: np.ndarray, k: int = K_NEIGHBOURS) -> RetrievalResult:
        """Search and form the inverse-square-distance weighted mean of the neighbours ``[T, C]``.

        Missing neighbours (id -1, distance 3.4e38) get weight 0, exactly as their float32
        weight underflows to 0 in the reference; a row without any neighbour keeps a zero mean
        and is reported through ``all_valid``.
        """
        score, ids = self.search(query, k)
        valid = ids >= 0
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            weight = np.square(np.float32(1.0) / score)
        weight = np.where(valid & np.isfinite(weight), weight, np.float32(0.0)).astype(np.float32)
        total = weight.sum(axis=1, keepdims=True)
        weight = weight / np.where(total > 0, total, np.float32(1.0))
        neighbours = self.vectors[np.where(valid, ids, 0)]
        retrieved = np.sum(neighbours * np.expand_dims(weight, axis=2), axis=1)
        return RetrievalResult(score, ids, retrieved.astype(np.float32, copy=False), bool(valid.all()))


def blend(features: np.ndarray, retrieved: np.ndarray, index_rate: float) -> np.ndarray:
    """``retrieved·rate + (1 − rate)·features`` in float32, the reference's torch expression."""
    rate = float(index_rate)
    return (retrieved * np.float32(rate) + np.float32(1.0 - rate) * features).astype(np.float32)


def load_index_or_none(path: str | os.PathLike[str] | None, dim: int | None = None) -> FeatureIndex | None:
    """Load an index for a conversion; on any problem log one warning and return None (retrieval off)."""
    if path is None or str(path).strip() == "":
        return None
    try:
        index = FeatureIndex.load(path)
    except IndexLoadError as exc:
        log.warning("retrieval disabled: %s", exc)
        return None
    if dim is not None and index.dim != dim:
        log.warning(
            "retrieval disabled: %s has %d-dim vectors but this voice uses %d-dim features "
            "(an index of another RVC version?)",
            index.path,
            index.dim,
            dim,
        )
        return None
    return index


@dataclass(frozen=True)
class IndexBuildConfig:
    """The reference ``train_index`` recipe."""

    kmeans_above: int = 200_000
    """Above this many vectors, reduce them to ``kmeans_clusters`` k-means centroids first."""
    kmeans_clusters: int = 10_000
    add_batch: int = 8192
    """Vectors are added in batches of this size."""
    seed: int = 3000
    """Seed of the row shuffle (the reference uses numpy's global RNG unseeded)."""


def ivf_lists(n: int) -> int:
    """``n_ivf = min(int(16·√N), N // 39)``, at least 1."""
    return max(1, min(int(16 * math.sqrt(n)), n // 39))


def build_index(
    features: np.ndarray, path: str | os.PathLike[str], config: IndexBuildConfig | None = None
) -> Path:
    """Build an IVF-Flat index over ``features [N, C]`` and write it atomically to ``path``.

    Rows are shuffled; above ``kmeans_above`` rows they are replaced by k-means centroids; the
    index is ``IVF{n_ivf},Flat`` with ``nprobe = 1``, trained on all rows and filled in batches.
    """
    import faiss

    cfg = config or IndexBuildConfig()
    x = np.ascontiguousarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"features must be [N, C] with N >= 1, got {x.shape}")
    x = x[np.random.default_rng(cfg.seed).permutation(x.shape[0])]
    if x.shape[0] > cfg.kmeans_above:
        km = faiss.Kmeans(x.shape[1], cfg.kmeans_clusters, niter=20, seed=cfg.seed)
        km.train(x)
        x = np.ascontiguousarray(km.centroids, dtype=np.float32)
    n_ivf = ivf_lists(x.shape[0])
    index = faiss.index_factory(x.shape[1], f"IVF{n_ivf},Flat")
    faiss.extract_index_ivf(index).nprobe = 1
    index.train(x)
    for start in range(0, x.shape[0], cfg.add_batch):
        index.add(x[start : start + cfg.add_batch])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".index", dir=target.parent)
    os.close(fd)
    try:
        faiss.write_index(index, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
