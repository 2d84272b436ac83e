"""Typed, frozen configuration of a training run: variants (sample rate x version), presets, settings.

The community RVC variants fix the audio front end (STFT size, hop, mel bands), the generator's
upsampling and the training segment; ``variant(sr, version)`` returns them. Everything a user may
tune lives in :class:`TrainConfig`; each field carries a one-line ``why`` (``settings_help``) that the
CLI help and the GUI wizard show.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from models.base import F0_METHODS
from models.errors import VoxshiftError
from models.kinds import RvcVersion
from models.rvc.config import RvcConfig
from models.rvc.config import variant as rvc_variant

SAMPLE_RATES = {"32k": 32000, "40k": 40000, "48k": 48000}
VERSIONS = tuple(v.value for v in RvcVersion)
"""RVC versions as settings (CLI, wizard, job files) write them; ``variant`` takes the RvcVersion."""
AMP_MODES = ("off", "bf16", "fp16")
PRESETS = ("community", "tiny")
PERIODS = {RvcVersion.V1: (2, 3, 5, 7, 11, 17), RvcVersion.V2: (2, 3, 5, 7, 11, 17, 23, 37)}
"""Multi-period discriminator periods of the reference (MultiPeriodDiscriminator / ...V2)."""


class ConfigError(VoxshiftError):
    """A training setting is invalid or does not fit the others."""


@dataclass(frozen=True)
class AudioConfig:
    """Audio front end of one variant (the reference's ``data`` section)."""

    sample_rate: int
    filter_length: int
    hop_length: int
    win_length: int
    n_mel_channels: int
    mel_fmin: float = 0.0
    mel_fmax: float | None = None

    @property
    def spec_channels(self) -> int:
        return self.filter_length // 2 + 1


@dataclass(frozen=True)
class Variant:
    """Everything fixed by (sample rate, version, preset): the audio front end and the generator.

    ``model`` is the generator's one typed configuration (``models.rvc.config.RvcConfig``, as a
    voice file stores it); its ``f0`` is the pitch-guided default, training sets its own.
    """

    sr_key: str
    audio: AudioConfig
    model: RvcConfig
    segment_frames: int
    """Training segment in feature frames (the reference's segment_size // hop_length; voice
    files store 32 whatever it was)."""
    disc_scale: float = 1.0
    """Width multiplier of the discriminators (1 = the reference's channel counts)."""

    @property
    def version(self) -> RvcVersion:
        return self.model.version

    @property
    def segment_size(self) -> int:
        """Training segment in samples at the model rate (a multiple of the hop)."""
        return self.segment_frames * self.audio.hop_length

    @property
    def periods(self) -> tuple[int, ...]:
        return PERIODS[self.version]

    @property
    def content_dim(self) -> int:
        return self.model.content_dim


_SEGMENTS = {
    ("32k", RvcVersion.V1): 12800,
    ("32k", RvcVersion.V2): 12800,
    ("40k", RvcVersion.V1): 12800,
    ("40k", RvcVersion.V2): 12800,
    ("48k", RvcVersion.V1): 11520,
    ("48k", RvcVersion.V2): 17280,
}
"""Training segment in samples (the reference's train.segment_size per config file)."""


def audio_config(sr_key: str) -> AudioConfig:
    """The reference's data section for one rate."""
    sr = SAMPLE_RATES[sr_key]
    if sr_key == "32k":
        return AudioConfig(sr, 1024, 320, 1024, 80)
    if sr_key == "40k":
        return AudioConfig(sr, 2048, 400, 2048, 125)
    return AudioConfig(sr, 2048, 480, 2048, 128)


def variant(sr_key: str, version: RvcVersion, preset: str = "community") -> Variant:
    """The variant for a rate key ("32k", "40k", "48k"), a version and a preset.

    The ``tiny`` preset keeps the audio front end and upsampling (so voices stay loadable and the
    output rate is right) but shrinks every width: it exists for tests and smoke runs.
    """
    if sr_key not in SAMPLE_RATES:
        raise ConfigError(f"sample rate must be one of {', '.join(SAMPLE_RATES)}, got {sr_key!r}")
    if preset not in PRESETS:
        raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    audio = audio_config(sr_key)
    model = rvc_variant(version, audio.sample_rate)
    if model.spec_channels != audio.spec_channels:
        raise ConfigError(
            f"{sr_key}: the generator's spectrogram ({model.spec_channels}) does not fit the STFT"
        )
    if preset == "community":
        return Variant(sr_key, audio, model, _SEGMENTS[(sr_key, version)] // audio.hop_length)
    model = dataclasses.replace(
        model,
        inter_channels=8,
        hidden_channels=8,
        filter_channels=16,
        n_heads=2,
        n_layers=1,
        resblock_kernel_sizes=(3,),
        resblock_dilation_sizes=((1, 3, 5),),
        upsample_initial_channel=32,
        n_speakers=1,
        gin_channels=8,
    )
    return Variant(sr_key, audio, model, segment_frames=8, disc_scale=1 / 16)


def _why(text: str, **kwargs: Any) -> Any:
    return field(metadata={"why": text}, **kwargs)


@dataclass(frozen=True)
class TrainConfig:
    """A complete RVC training job. Defaults follow the reference WebUI."""

    name: str = _why("Name of the voice; output files and the experiment folder are named after it.")
    data_dir: str = _why("Folder of your recordings (any format soundfile reads, searched recursively).")
    out_dir: str = _why(
        "Where the experiment folder goes; rerunning with the same folder resumes.", default="runs"
    )
    sr: str = _why(
        "Model sample rate: 40k suits most voices; 48k keeps more air, trains slower.", default="40k"
    )
    version: Literal["v1", "v2"] = _why(
        "v2 (HuBERT layer 12, 768-d) sounds clearer than v1; use v1 for old pretrained files.", default="v2"
    )
    f0: bool = _why(
        "Pitch-guided model (needed for singing and pitch shifting); off only for speech effects.",
        default=True,
    )
    f0_method: str = _why(
        "Pitch tracker for the dataset: rmvpe is the most robust, dsp needs no model file.", default="rmvpe"
    )
    preset: str = _why(
        "Model size: community (compatible with community pretrained files) or tiny (tests).",
        default="community",
    )
    epochs: int = _why("Passes over the dataset; 100-300 is typical for 10-30 minutes of audio.", default=200)
    batch_size: int = _why("Slices per step per device; lower it if memory runs out.", default=4)
    learning_rate: float = _why("AdamW learning rate of the reference (1e-4).", default=1e-4)
    betas: tuple[float, float] = _why("AdamW betas of the reference.", default=(0.8, 0.99))
    eps: float = _why("AdamW epsilon of the reference.", default=1e-9)
    lr_decay: float = _why(
        "Exponential learning-rate decay per epoch (reference 0.999875).", default=0.999875
    )
    c_mel: float = _why("Weight of the mel-spectrogram L1 loss (reference 45).", default=45.0)
    c_kl: float = _why("Weight of the KL loss (reference 1).", default=1.0)
    seed: int = _why("Random seed; the same seed and data give the same run.", default=1234)
    save_every: int = _why("Write a checkpoint every N epochs; a crash loses at most that much.", default=5)
    keep_checkpoints: int = _why(
        "How many old checkpoints to keep on disk (the latest is always kept).", default=2
    )
    amp: str = _why(
        "Mixed precision on GPU: bf16 (fast, stable), fp16 (with loss scaling) or off.", default="off"
    )
    grad_accum: int = _why(
        "Accumulate gradients over N batches: a larger effective batch in the same memory.", default=1
    )
    grad_checkpoint: bool = _why(
        "Recompute activations in the backward pass: less memory, ~30% slower.", default=False
    )
    pretrained_g: str | None = _why(
        "Pretrained generator (e.g. f0G40k.pth): much faster, better results.", default=None
    )
    pretrained_d: str | None = _why(
        "Pretrained discriminator matching the generator (e.g. f0D40k.pth).", default=None
    )
    content_encoder: str | None = _why(
        "HuBERT/ContentVec file hubert_base.pt (default: the installed shared model file).", default=None
    )
    pitch_model: str | None = _why(
        "rmvpe.pt for the rmvpe tracker (default: the installed shared model file).", default=None
    )
    heldout: int = _why("Slices kept out of training to detect overtraining.", default=4)
    log_every: int = _why("Report losses every N steps.", default=10)
    max_steps: int | None = _why(
        "Stop after this many optimizer steps (smoke tests); None trains all epochs.", default=None
    )
    device: str = _why(
        "cpu, cuda, or auto (CUDA when available); torchrun gives each process one GPU.", default="auto"
    )
    num_workers: int = _why("Data-loading worker processes per device.", default=0)
    index: bool = _why(
        "Build the FAISS retrieval index after training (sharper timbre at conversion).", default=True
    )
    slice_seconds: float = _why("Target slice length when cutting recordings at silences.", default=3.7)

    def __post_init__(self) -> None:
        self._check_choices()
        for name in ("epochs", "batch_size", "save_every", "grad_accum", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.heldout < 0:
            raise ConfigError(f"heldout must be 0 or more, got {self.heldout}")
        if (self.pretrained_g is None) != (self.pretrained_d is None):
            raise ConfigError("give both --pretrained-g and --pretrained-d, or neither")
        if not self.name or any(c in self.name for c in "/\\:") or self.name.startswith("."):
            raise ConfigError(f"name must be a plain file name, got {self.name!r}")

    def _check_choices(self) -> None:
        for name, allowed in (
            ("sr", tuple(SAMPLE_RATES)),
            ("version", VERSIONS),
            ("f0_method", F0_METHODS),
            ("amp", AMP_MODES),
            ("preset", PRESETS),
            ("device", ("auto", "cpu", "cuda")),
        ):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    @property
    def variant(self) -> Variant:
        return variant(self.sr, RvcVersion(self.version), self.preset)

    @property
    def exp_dir(self) -> Path:
        return Path(self.out_dir) / self.name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild from ``to_dict`` output; unknown keys are rejected."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training settings: {', '.join(unknown)}")
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    ARCH_FIELDS = ("sr", "version", "f0", "preset")
    """Settings that shape the networks: a resumed run must keep them."""

    def save(self, path: Path) -> None:
        from training.fsutil import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))


def settings_help(cls: type = TrainConfig) -> dict[str, tuple[Any, str]]:
    """Field name -> (default or None when required, one-line why), for the CLI help and the GUI."""
    out: dict[str, tuple[Any, str]] = {}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        out[f.name] = (default, str(f.metadata.get("why", "")))
    return out
