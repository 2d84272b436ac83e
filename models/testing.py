"""Deterministic synthetic weights (rule ``crc32-uniform-v1``) for parity tests and benchmarks.

The reference fixtures describe every tensor of a model file in a manifest (key, shape, stored
dtype, ``sha256_16``) and fix one rule that regenerates its value from those alone. With it a
community-size model can be built without downloading anything, and our implementation can be
compared bit for bit with goldens computed by the reference code on the same weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

RULE_ID = "crc32-uniform-v1"

_DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "long": torch.int64,
}


def load_manifest(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        manifest: dict[str, Any] = json.load(f)
    if manifest.get("weight_rule", RULE_ID) != RULE_ID and RULE_ID not in str(manifest.get("weight_rule")):
        raise ValueError(f"manifest uses weight rule {manifest.get('weight_rule')!r}, not {RULE_ID}")
    return manifest


def manifest_tensors(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The manifest's tensor entries: dicts with ``key``, ``shape``, ``dtype``, ``sha256_16``."""
    return list(manifest["state_dict"]["tensors"])


def _uniform(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator(device="cpu")
    gen.manual_seed(zlib.crc32(key.encode("utf-8")))
    return torch.rand(shape, generator=gen, dtype=torch.float32) * 2 - 1


def _f32(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32)


def _sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    w = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pos = torch.arange(positions, dtype=torch.float32).unsqueeze(1)
    table = torch.zeros(1, positions, dim, dtype=torch.float32)
    table[0, :, 0::2] = torch.sin(pos * w)
    table[0, :, 1::2] = torch.cos(pos * w)
    return table


def rule_value(key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The float32 value of one (non-``weight_g``, non-integer) tensor under the rule."""
    name = key.rsplit(".", 1)[-1]
    if name == "running_mean":
        return _f32(0.1) * _uniform(key, shape)
    if name == "running_var":
        return _f32(1.0) + _f32(0.1) * _uniform(key, shape)
    if name == "pe" and len(shape) == 3 and shape[0] == 1:
        return _sinusoid_table(shape[1], shape[2])
    if len(shape) == 1 and name in ("weight", "gamma"):
        return _f32(1.0) + _f32(0.1) * _uniform(key, shape)
    if len(shape) == 1 and ("bias" in name or name == "beta"):
        return _f32(0.02) * _uniform(key, shape)
    if len(shape) == 0:
        return _uniform(key, shape)
    fan_in = math.prod(shape) // shape[0]
    a = _f32(float(np.float32(math.sqrt(3.0 / fan_in))))
    return _uniform(key, shape) * a


def rule_weights(manifest: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Regenerate every tensor of ``manifest`` in its stored dtype, in manifest order."""
    entries = manifest_tensors(manifest)
    out: dict[str, torch.Tensor] = {}
    for e in entries:
        key, shape, dtype = e["key"], tuple(e["shape"]), _DTYPES[e["dtype"]]
        if not dtype.is_floating_point:
            out[key] = torch.zeros(shape, dtype=dtype)
        elif key.rsplit(".", 1)[-1] == "weight_g":
            out[key] = torch.empty(0)  # placeholder keeps manifest order; filled below
        else:
            out[key] = rule_value(key, shape).to(dtype)
    for e in entries:
        key = e["key"]
        if key.rsplit(".", 1)[-1] != "weight_g":
            continue
        shape, dtype = tuple(e["shape"]), _DTYPES[e["dtype"]]
        v = out[key[: -len("weight_g")] + "weight_v"].to(torch.float64)
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
        norm = torch.sqrt((v * v).sum(dim=axes, keepdim=True))
        out[key] = norm.to(torch.float32).to(dtype).reshape(shape)
    return out


def sha256_16(t: torch.Tensor) -> str:
    """First 16 hex digits of SHA-256 over the tensor's C-order little-endian bytes."""
    arr = t.detach().cpu().contiguous()
    if arr.dtype == torch.bfloat16:
        data = arr.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        np_arr = arr.numpy()
        data = np_arr.astype(np_arr.dtype.newbyteorder("<"), copy=False).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


# Deterministic tables computed with transcendental functions (the LLVC sinusoid ``pe``): their
# last bits depend on the machine's libm, so they are checked against the exact formula within
# float32 rounding instead of by hash. Every random tensor is checked bit for bit.
TABLE_RULES = ("sinusoid_table",)


def check_rule_weights(manifest: Mapping[str, Any], weights: Mapping[str, torch.Tensor]) -> None:
    """Raise ``AssertionError`` naming every tensor whose shape, dtype or hash differs."""
    bad = []
    for e in manifest_tensors(manifest):
        t = weights.get(e["key"])
        if t is not None and e.get("rule") in TABLE_RULES:
            shape = tuple(e["shape"])
            exact = _sinusoid_table(shape[1], shape[2])
            if tuple(t.shape) != shape or (t - exact).abs().max() > 1e-6:
                bad.append(f"{e['key']}: sinusoid table differs from the formula")
            continue
        if t is None:
            bad.append(f"{e['key']}: missing")
        elif tuple(t.shape) != tuple(e["shape"]) or t.dtype != _DTYPES[e["dtype"]]:
            bad.append(f"{e['key']}: {tuple(t.shape)} {t.dtype} != {e['shape']} {e['dtype']}")
        elif sha256_16(t) != e["sha256_16"]:
            bad.append(f"{e['key']}: sha256_16 {sha256_16(t)} != {e['sha256_16']}")
    if bad:
        raise AssertionError(f"{len(bad)} tensors differ from the manifest: " + "; ".join(bad[:10]))
