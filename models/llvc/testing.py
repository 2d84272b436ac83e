"""Rule-weight LLVC checkpoints (``{"model": state_dict, ...}`` + ``config.json``) for tests and benches."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from models.testing import check_rule_weights, load_manifest, rule_weights

MANIFEST = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "reference" / "manifest_llvc.json"


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_rule_checkpoint(
    directory: str | Path, manifest_path: str | Path = MANIFEST, *, check: bool = True
) -> tuple[Path, Path]:
    """Write ``G_rule.pth`` (the manifest's container layout) and ``config.json`` into ``directory``.

    The weights come from the documented rule and, with ``check``, are verified tensor by tensor
    against the manifest hashes. Returns ``(checkpoint_path, config_path)``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(manifest_path)
    weights = rule_weights(manifest)
    if check:
        check_rule_weights(manifest, weights)
    container = {"model": weights, "epoch": 0, "step": 0, "optimizer": {}, "learning_rate": 5e-4}
    ckpt, cfg = directory / "G_rule.pth", directory / "config.json"
    _atomic_write(ckpt, lambda tmp: torch.save(container, tmp))
    text = json.dumps(manifest["hyperparameters"]["full_config_json"], indent=2)
    _atomic_write(cfg, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return ckpt, cfg
