"""Fixture writer: a rule-weight ``rmvpe.pt`` (bare fp16 state dict, as the published file)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import torch

from models.testing import check_rule_weights, load_manifest, rule_weights


def write_rmvpe_checkpoint(path: str | Path, state: Mapping[str, torch.Tensor]) -> Path:
    """``torch.save`` the bare state dict to ``path`` atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(dict(state), tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_rule_rmvpe(path: str | Path, manifest_path: str | Path) -> Path:
    """The rule-weight ``rmvpe.pt`` of ``manifest_rmvpe.json`` (hashes checked before writing)."""
    manifest = load_manifest(manifest_path)
    state = rule_weights(manifest)
    check_rule_weights(manifest, state)
    return write_rmvpe_checkpoint(path, state)
