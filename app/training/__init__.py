"""The training wizard (GUI face of :mod:`training.api`): pages plus a QProcess event reader."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QWidget

from app.training.library import LibraryDir
from app.training.process import TrainingProcess
from app.training.wizard import TrainingWizard

__all__ = ["TrainingProcess", "TrainingWizard", "open_training_wizard"]


def open_training_wizard(
    parent: QWidget | None, library_dir: LibraryDir, defaults: dict[str, Any] | None = None
) -> TrainingWizard:
    """Create and show the wizard (non-modal). ``library_dir`` is a folder or a callable returning one.

    Connect ``wizard.voice_ready(path)`` to refresh the voice library. ``defaults`` prefill any
    :class:`training.api.TrainConfig` field (e.g. ``out_dir``) and ``nproc`` / ``gpus``.
    """
    wizard = TrainingWizard(library_dir, parent, defaults)
    wizard.show()
    return wizard
