"""Fixture writer: a rule-weight ``hubert_base.pt`` in the real fairseq container layout.

The file looks like RVC's ``hubert_base.pt`` (ContentVec in fairseq format): ``args`` None, a plain
``cfg`` dict, the fp16 ``model`` state dict, ``optimizer_history``, ``extra_state`` and a
``task_state`` holding a pickled ``fairseq.data.dictionary.Dictionary``. That class is defined in a
throwaway module registered in ``sys.modules`` only while pickling, so no fairseq is needed and
loaders are exercised exactly as with the real file (a foreign class in the pickle).
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from models.testing import check_rule_weights, load_manifest, rule_weights

_FAKE_MODULES = ("fairseq", "fairseq.data", "fairseq.data.dictionary")


class _Dictionary:
    """Stand-in with the attributes of fairseq's ``Dictionary`` (pickled by value)."""

    def __init__(self, n_labels: int) -> None:
        self.bos_word, self.unk_word, self.pad_word, self.eos_word = "<s>", "<unk>", "<pad>", "</s>"
        self.symbols = ["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(n_labels)]
        self.count = [1] * len(self.symbols)
        self.indices = {s: i for i, s in enumerate(self.symbols)}
        self.bos_index, self.pad_index, self.eos_index, self.unk_index = 0, 1, 2, 3
        self.nspecial = 4


@contextmanager
def _fake_fairseq() -> Iterator[type]:
    """Register ``fairseq.data.dictionary.Dictionary`` for the duration of a ``torch.save``."""
    saved = {name: sys.modules.get(name) for name in _FAKE_MODULES}
    cls = type("Dictionary", (_Dictionary,), {"__module__": "fairseq.data.dictionary"})
    mods = {name: types.ModuleType(name) for name in _FAKE_MODULES}
    mods["fairseq"].data = mods["fairseq.data"]  # type: ignore[attr-defined]
    mods["fairseq.data"].dictionary = mods["fairseq.data.dictionary"]  # type: ignore[attr-defined]
    mods["fairseq.data.dictionary"].Dictionary = cls  # type: ignore[attr-defined]
    sys.modules.update(mods)
    try:
        yield cls
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod


def fairseq_container(
    manifest: Mapping[str, Any], state: Mapping[str, torch.Tensor], dictionary: object
) -> dict:
    """The top-level checkpoint dict of a fairseq HuBERT file around ``state``."""
    cfg = copy.deepcopy(manifest["container"]["synthetic_cfg_used_for_golden"])
    return {
        "args": None,
        "cfg": cfg,
        "model": dict(state),
        "criterion": None,
        "optimizer_history": [
            {
                "criterion_name": "HubertCriterion",
                "optimizer_name": "FairseqAdam",
                "lr_scheduler_state": {"best": None},
                "num_updates": 0,
            }
        ],
        "task_state": {"dictionaries": [dictionary]},
        "extra_state": {"metrics": {}, "previous_training_time": 0.0},
    }


def write_hubert_checkpoint(
    path: str | Path, manifest: Mapping[str, Any], state: Mapping[str, torch.Tensor] | None = None
) -> Path:
    """Write ``state`` (default: the rule weights of ``manifest``, hash-checked) as a fairseq file."""
    if state is None:
        state = rule_weights(manifest)
        check_rule_weights(manifest, state)
    n_labels = int(state["label_embs_concat"].shape[0]) - 4 if "label_embs_concat" in state else 500
    path = Path(path)
    with _fake_fairseq() as cls:
        ckpt = fairseq_container(manifest, state, cls(n_labels))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(ckpt, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def write_rule_hubert(path: str | Path, manifest_path: str | Path) -> Path:
    """Convenience: the rule-weight ``hubert_base.pt`` described by ``manifest_hubert_base.json``."""
    return write_hubert_checkpoint(path, load_manifest(manifest_path))


def write_tiny_hubert(path: str | Path, manifest_path: str | Path, layers: int = 9, seed: int = 0) -> Path:
    """A HuBERT-base-format file with narrow layers (fast tests; ``final_proj`` to 256 as RVC v1).

    Random weights from ``seed``; the container is the real fairseq layout of ``manifest_path``.
    """
    from models.content import Hubert, HubertConfig

    torch.manual_seed(seed)
    cfg = HubertConfig(embed_dim=32, ffn_dim=64, heads=2, layers=layers, conv_pos=16, conv_pos_groups=16)
    net = Hubert(cfg)
    manifest = load_manifest(manifest_path)
    manifest["container"]["synthetic_cfg_used_for_golden"]["model"]["encoder_attention_heads"] = cfg.heads
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    # fairseq stores the positional conv with weight norm over dim 2
    w = state.pop("encoder.pos_conv.weight")
    state["encoder.pos_conv.0.weight_v"] = w
    state["encoder.pos_conv.0.weight_g"] = w.norm(dim=(0, 1), keepdim=True)
    state["encoder.pos_conv.0.bias"] = state.pop("encoder.pos_conv.bias")
    return write_hubert_checkpoint(path, manifest, state)
