"""Which compute devices the voices can run on, and a plain warning when a GPU is present but unusable."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ComputeDevice:
    """One choice in the compute picker: ``id`` is a torch device string ("cpu", "cuda:0", "mps")."""

    id: str
    label: str


CPU = ComputeDevice("cpu", "CPU")


def list_compute_devices() -> list[ComputeDevice]:
    """CPU, each CUDA GPU by name and memory, and Apple MPS where torch can use them."""
    import torch

    devices = [CPU]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gib = props.total_memory / 2**30
            devices.append(ComputeDevice(f"cuda:{i}", f"GPU {i}: {props.name} ({gib:.0f} GiB, fp16)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(ComputeDevice("mps", "Apple GPU (MPS)"))
    return devices


def nvidia_gpu_present() -> bool:
    """An NVIDIA driver is loaded (independent of whether torch was built with CUDA)."""
    return Path("/proc/driver/nvidia/version").exists() or _nvidia_smi_lists_gpu()


def _nvidia_smi_lists_gpu() -> bool:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "GPU" in proc.stdout


def gpu_warning() -> str | None:
    """A one-paragraph explanation when an NVIDIA GPU exists but torch cannot use it, else None."""
    import torch

    if torch.cuda.is_available() or not nvidia_gpu_present():
        return None
    built = torch.version.cuda
    if built is None:
        return (
            f"This machine has an NVIDIA GPU, but the installed PyTorch ({torch.__version__}) is a "
            "CPU-only build, so voices run slowly on the CPU. Fix: reinstall PyTorch with CUDA, e.g. "
            "`.venv/bin/pip install --force-reinstall torch torchaudio --index-url "
            "https://download.pytorch.org/whl/cu124`, then restart Voxshift."
        )
    return (
        f"This machine has an NVIDIA GPU and PyTorch was built for CUDA {built}, but CUDA cannot be "
        "initialised (driver too old or not loaded). Fix: update the NVIDIA driver (`nvidia-smi` "
        "must work) or install a PyTorch build for the CUDA version your driver supports."
    )
