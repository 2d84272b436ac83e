"""The Python API the GUI's training wizard uses (no Qt here).

Typical flow::

    report = api.scan_dataset(folder)              # show report.summary(), report.warnings
    settings = api.TrainConfig(name=..., data_dir=folder, content_encoder=..., ...)
    for field, (default, why) in api.settings_help().items(): ...   # form with defaults + why
    job = api.prepare_job(settings, api.LaunchConfig(nproc=1))
    # start job.argv with job.env in a QProcess; feed each stdout line to api.parse_event(line)
    # Stage / Progress / StepLosses / Eval / Checkpoint / Done / Error; kill the process to stop,
    # start the same job again to resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.config import ConfigError, TrainConfig, settings_help, variant
from training.distill import DistillConfig, write_distill_job
from training.events import (
    Checkpoint,
    Done,
    Error,
    Eval,
    Event,
    Progress,
    Stage,
    StepLosses,
    parse_event,
    read_events,
)
from training.launch import LaunchConfig, launch_env, parse_devices, torchrun_command, write_train_job
from training.report import DatasetReport, scan_dataset

__all__ = [
    "Checkpoint",
    "ConfigError",
    "DatasetReport",
    "DistillConfig",
    "Done",
    "Error",
    "Eval",
    "Event",
    "Job",
    "LaunchConfig",
    "Progress",
    "Stage",
    "StepLosses",
    "TrainConfig",
    "parse_devices",
    "parse_event",
    "prepare_distill_job",
    "prepare_job",
    "read_events",
    "scan_dataset",
    "settings_help",
    "variant",
]


@dataclass(frozen=True)
class Job:
    """A ready-to-start training process: run ``argv`` with ``env`` (no shell); stdout carries events."""

    argv: list[str]
    env: dict[str, str]
    config_path: Path
    exp_dir: Path


def prepare_job(settings: TrainConfig, launch: LaunchConfig | None = None) -> Job:
    """Writes the job settings into the experiment folder and returns the torchrun command.

    Raises :class:`ConfigError` if the folder holds a run with another rate/version/f0/preset.
    """
    launch = launch or LaunchConfig()
    path = write_train_job(settings)
    return Job(torchrun_command("rvc", path, launch), launch_env(launch), path, settings.exp_dir)


def prepare_distill_job(settings: DistillConfig, launch: LaunchConfig | None = None) -> Job:
    """As :func:`prepare_job` for an LLVC distillation."""
    launch = launch or LaunchConfig()
    path = write_distill_job(settings)
    return Job(torchrun_command("llvc", path, launch), launch_env(launch), path, settings.exp_dir)
