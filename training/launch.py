"""Launching a training job as separate processes with torchrun (``python -m torch.distributed.run``).

The launcher writes the job's settings as JSON into the experiment folder and starts
``training.cli`` under torchrun: ``--standalone`` (a free port on this machine) for one node, or
torchrun's c10d rendezvous at ``--rdzv-endpoint`` for several machines (run the same command on each;
the data and output folders must be on a shared file system). Rank 0 prints JSON-lines events.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ConfigError, TrainConfig
from training.events import Event, parse_event
from training.fsutil import atomic_write_text

CONFIG_NAME = "job.json"


@dataclass(frozen=True)
class LaunchConfig:
    """How many processes and where: one per GPU (or ``nproc`` CPU processes) per node."""

    nproc: int = 1
    """Processes on this machine (one per GPU with CUDA)."""
    cuda_devices: tuple[int, ...] = ()
    """GPU indices to use (CUDA_VISIBLE_DEVICES); empty: CPU or torch's default."""
    nnodes: int = 1
    """Machines taking part; more than 1 needs ``rdzv_endpoint``."""
    rdzv_endpoint: str | None = None
    """host:port of the rendezvous (any reachable machine) for several machines."""
    rdzv_id: str = "voxshift"

    def __post_init__(self) -> None:
        if self.nproc < 1 or self.nnodes < 1:
            raise ConfigError("--nproc and --nnodes must be at least 1")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise ConfigError("several machines need --rdzv-endpoint HOST:PORT (the same on every machine)")


def parse_devices(spec: str) -> tuple[str, tuple[int, ...]]:
    """``"cpu"``, ``"cuda"`` or ``"cuda:0,1"`` -> (device kind, GPU indices)."""
    spec = spec.strip().lower()
    if spec in ("cpu", "auto"):
        return spec, ()
    if spec == "cuda":
        return "cuda", ()
    if spec.startswith("cuda:"):
        try:
            ids = tuple(int(x) for x in spec[5:].split(",") if x.strip())
        except ValueError:
            raise ConfigError(f"--devices must look like cpu, cuda or cuda:0,1; got {spec!r}") from None
        if ids:
            return "cuda", ids
    raise ConfigError(f"--devices must look like cpu, cuda or cuda:0,1; got {spec!r}")


def write_job(exp_dir: Path, settings: dict[str, Any], arch_fields: tuple[str, ...] = ()) -> Path:
    """Writes the job's settings; refuses to reuse a folder whose run has other ``arch_fields``."""
    path = exp_dir / CONFIG_NAME
    if path.is_file() and arch_fields:
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = [k for k in arch_fields if k in old and old[k] != settings.get(k)]
        if changed:
            raise ConfigError(
                f"{exp_dir} holds a run with other {', '.join(changed)} "
                f"({', '.join(f'{k}={old[k]}' for k in changed)}); choose another --name or --out"
            )
    atomic_write_text(path, json.dumps(settings, indent=2))
    return path


def resolve_inputs(cfg: TrainConfig) -> TrainConfig:
    """Fails fast, before any process starts, on a missing data folder or model file.

    The content encoder and the RMVPE model default to the shared model files
    (``models.files``: ``$VOXSHIFT_HUBERT`` / ``$VOXSHIFT_RMVPE`` or the models folder).
    """
    from models.files import HUBERT, RMVPE, require

    if not Path(cfg.data_dir).is_dir():
        raise ConfigError(f"the data folder {cfg.data_dir} does not exist")
    changes: dict[str, Any] = {"content_encoder": str(require(HUBERT, cfg.content_encoder))}
    if cfg.f0 and cfg.f0_method == "rmvpe":
        changes["pitch_model"] = str(require(RMVPE, cfg.pitch_model))
    files = {"pretrained generator": cfg.pretrained_g, "pretrained discriminator": cfg.pretrained_d}
    for what, path in files.items():
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"the {what} file {path} does not exist")
    return dataclasses.replace(cfg, **changes)


def write_train_job(cfg: TrainConfig) -> Path:
    """Resolves and checks the inputs, then writes ``job.json`` (see :func:`write_job`)."""
    cfg = resolve_inputs(cfg)
    return write_job(cfg.exp_dir, cfg.to_dict(), TrainConfig.ARCH_FIELDS)


def torchrun_command(job: str, config_path: Path, launch: LaunchConfig) -> list[str]:
    """The argv that starts ``training.cli <job>`` under torchrun (no shell involved)."""
    cmd = [sys.executable, "-m", "torch.distributed.run"]
    if launch.nnodes == 1 and launch.rdzv_endpoint is None:
        cmd += ["--standalone", "--nnodes", "1"]
    else:
        cmd += [
            "--nnodes", str(launch.nnodes), "--rdzv-backend", "c10d",
            "--rdzv-endpoint", str(launch.rdzv_endpoint), "--rdzv-id", launch.rdzv_id,
        ]  # fmt: skip
    cmd += ["--nproc-per-node", str(launch.nproc), "-m", "training.cli", job, "--config", str(config_path)]
    return cmd


def launch_env(launch: LaunchConfig) -> dict[str, str]:
    """Environment for torchrun: chosen GPUs, and CPU threads shared among the processes."""
    env = dict(os.environ)
    if launch.cuda_devices:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in launch.cuda_devices)
    if "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // launch.nproc))
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_job(
    cmd: list[str], env: dict[str, str], on_event: Callable[[Event], None], on_line: Callable[[str], None]
) -> int:
    """Runs torchrun, calling ``on_event`` for each event line and ``on_line`` for other output.

    Ctrl-C stops the job (torchrun forwards the signal); a rerun resumes from the last checkpoint.
    """
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in _lines(proc.stdout):
            event = parse_event(line)
            if event is not None:
                on_event(event)
            else:
                on_line(line.rstrip("\n"))
        return proc.wait()


def _lines(stream: Any) -> Iterator[str]:
    yield from iter(stream.readline, "")
