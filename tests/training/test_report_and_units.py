"""Fast tests: dataset report, slicing cache, events, sampler, config, overtraining advice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from models.kinds import RvcVersion
from training.config import ConfigError, TrainConfig, variant
from training.data import DistributedBucketSampler
from training.events import Checkpoint, Error, StepLosses, parse_event, read_events
from training.heldout import HeldoutTracker
from training.launch import LaunchConfig, parse_devices, torchrun_command
from training.preprocess import SliceConfig, prepare_dataset
from training.report import scan_dataset


def _bad_folder(speech_dir: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(speech_dir, root)
    (root / "notes.txt").write_text("not audio")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00garbage")
    sf.write(str(root / "click.wav"), np.ones(400, np.float32) * 0.5, 16000)
    sf.write(str(root / "silent.flac"), np.zeros(32000, np.float32), 16000)
    loud = np.clip(np.sin(np.linspace(0, 2000, 48000)) * 3, -1, 1).astype(np.float32)
    (root / "sub").mkdir()
    sf.write(str(root / "sub" / "clipped.wav"), loud, 48000)
    return root


def test_report_flags_bad_files_and_too_little_audio(speech_dir: Path, tmp_path: Path) -> None:
    report = scan_dataset(_bad_folder(speech_dir, tmp_path))
    rejected = {Path(r.path).name: r.reason for r in report.rejected}
    assert "unreadable" in rejected["notes.txt"] and "unreadable" in rejected["broken.wav"]
    assert "too short" in rejected["click.wav"]
    assert rejected["silent.flac"] == "silent"
    assert {Path(f.path).name for f in report.files} == {
        "s0.wav",
        "s1.wav",
        "s2.wav",
        "s3.wav",
        "clipped.wav",
    }
    clipped = next(f for f in report.files if f.path.endswith("clipped.wav"))
    assert any("clipped" in p for p in clipped.problems)
    text = " ".join(report.warnings)
    assert "10 minutes" in text and "mixed sample rates" in text and "4 file(s) skipped" in text
    assert "broken.wav" in report.summary()


def test_report_of_missing_folder(tmp_path: Path) -> None:
    report = scan_dataset(tmp_path / "nope")
    assert not report.ok and "not a folder" in report.rejected[0].reason


def test_slicing_is_cached_by_content(speech_dir: Path, tmp_path: Path) -> None:
    report = scan_dataset(speech_dir)
    cfg = SliceConfig(sample_rate=40000)
    first = prepare_dataset(report, tmp_path / "prep", cfg)
    assert first.reused == 0 and len(first.names) >= len(report.files)
    for name in first.names:
        gt, sr = sf.read(str(first.gt(name)))
        x16, sr16 = sf.read(str(first.wav16k(name)))
        assert sr == 40000 and sr16 == 16000 and abs(len(gt) / 40000 - len(x16) / 16000) < 0.01
        assert 0.6 <= len(gt) / sr <= 4.1 and np.abs(gt).max() <= 0.951
    again = prepare_dataset(report, tmp_path / "prep", cfg)
    assert again.reused == len(report.files) and again.names == first.names


def test_events_roundtrip_and_skip_noise() -> None:
    lines = [
        "some warning from torch",
        StepLosses(3, 1, {"mel": 1.5}, 1e-4).to_json(),
        "{not json",
        Checkpoint("/x/ckpt.pt", 3, 1).to_json(),
        json.dumps({"event": "unknown"}),
        Error("disk full", "DiskFullError").to_json(),
    ]
    events = list(read_events(lines))
    assert [type(e) for e in events] == [StepLosses, Checkpoint, Error]
    assert events[0].losses == {"mel": 1.5} and parse_event("plain") is None


def test_bucket_sampler_gives_every_rank_equal_batches() -> None:
    lengths = [50, 120, 130, 370, 380, 390, 800, 20, 150]
    per_rank = [DistributedBucketSampler(lengths, 2, 2, r, seed=1) for r in (0, 1)]
    for s in per_rank:
        s.set_epoch(3)
    batches = [list(s) for s in per_rank]
    assert len(batches[0]) == len(batches[1]) > 0
    seen = {i for b in batches for batch in b for i in batch}
    assert seen == set(range(len(lengths)))
    for b0, b1 in zip(*batches, strict=True):  # same bucket on both ranks at each step
        assert abs(lengths[b0[0]] - lengths[b1[0]]) < 500
    assert [list(s) for s in per_rank] == batches  # deterministic per epoch (resume replays it)


def test_config_validation_and_variants() -> None:
    with pytest.raises(ConfigError, match="both"):
        TrainConfig(name="a", data_dir="d", pretrained_g="g.pth")
    with pytest.raises(ConfigError, match="sr"):
        TrainConfig(name="a", data_dir="d", sr="44k")
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_dict({"name": "a", "data_dir": "d", "bogus": 1})
    v = variant("48k", RvcVersion.V2)
    assert (
        v.model.to_community_list()[12] == [12, 10, 2, 2] and v.segment_frames == 36 and len(v.periods) == 8
    )
    v1 = variant("40k", RvcVersion.V1)
    assert v1.model.to_community_list()[:2] == [1025, 32] and len(v1.periods) == 6 and v1.segment_frames == 32


def test_overtraining_advice() -> None:
    t = HeldoutTracker()
    for epoch, v in [(5, 2.0), (10, 1.5), (15, 1.6), (20, 1.7), (25, 1.8)]:
        t.add(epoch, epoch * 10, v)
    assert t.best is not None and t.best[0] == 10
    assert "overtraining" in t.advice() and "epoch 10" in t.advice()
    assert "Still improving" in HeldoutTracker([(1, 1, 2.0)]).advice()


def test_torchrun_command_and_devices() -> None:
    assert parse_devices("cuda:0,1") == ("cuda", (0, 1)) and parse_devices("cpu") == ("cpu", ())
    with pytest.raises(ConfigError):
        parse_devices("tpu")
    cmd = torchrun_command("rvc", Path("/r/job.json"), LaunchConfig(nproc=2))
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc-per-node" in cmd
    multi = torchrun_command("rvc", Path("j"), LaunchConfig(2, (), 2, "host:29400"))
    assert "--standalone" not in multi and multi[multi.index("--rdzv-endpoint") + 1] == "host:29400"
    with pytest.raises(ConfigError):
        LaunchConfig(nnodes=2)


def test_discriminator_layout_matches_reference_keys() -> None:
    from training.discriminators import MultiPeriodDiscriminator
    from training.wnorm import to_community

    sd = to_community(MultiPeriodDiscriminator((2, 3, 5, 7, 11, 17, 23, 37)).state_dict())
    assert "discriminators.0.convs.0.weight_g" in sd and "discriminators.8.conv_post.weight_v" in sd
    assert tuple(sd["discriminators.1.convs.4.weight_v"].shape) == (1024, 1024, 5, 1)
    assert len([k for k in sd if k.startswith("discriminators.")]) == len(sd)
    assert torch.isfinite(sd["discriminators.0.conv_post.weight_g"]).all()


def test_api_prepares_a_resumable_job_and_refuses_other_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.errors import VoxshiftError
    from training import api

    for var in ("VOXSHIFT_HUBERT", "VOXSHIFT_RMVPE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VOXSHIFT_MODELS_DIR", str(tmp_path / "no-models"))

    enc = tmp_path / "hubert.pt"
    enc.write_bytes(b"x")
    base = {"name": "v", "data_dir": str(tmp_path), "out_dir": str(tmp_path / "runs"), "preset": "tiny"}
    with pytest.raises(VoxshiftError, match="content encoder"):
        api.prepare_job(api.TrainConfig(**base, f0_method="dsp"))
    with pytest.raises(VoxshiftError, match="rmvpe"):
        api.prepare_job(api.TrainConfig(**base, content_encoder=str(enc)))
    settings = api.TrainConfig(**base, content_encoder=str(enc), f0_method="dsp")
    job = api.prepare_job(settings, api.LaunchConfig(nproc=2))
    assert job.config_path.is_file() and "training.cli" in job.argv and job.env["PYTHONUNBUFFERED"] == "1"
    assert api.TrainConfig.from_dict(json.loads(job.config_path.read_text())) == settings
    api.prepare_job(settings)  # same architecture: fine (a rerun resumes)
    with pytest.raises(ConfigError, match="other version"):
        api.prepare_job(api.TrainConfig(**{**settings.to_dict(), "version": "v1"}))
    assert all(why for _, why in api.settings_help().values())


@pytest.mark.slow
@pytest.mark.parametrize(("amp", "accum", "ckpt"), [("bf16", 2, True), ("fp16", 1, False)])
def test_loop_options_amp_accumulation_checkpointing(amp: str, accum: int, ckpt: bool) -> None:
    from training.data import collate
    from training.discriminators import MultiPeriodDiscriminator
    from training.distenv import DistEnv
    from training.generator import TrainingGenerator, build_generator
    from training.loop import make_state, micro_step, optimizer_step
    from training.losses import spectrogram

    torch.manual_seed(0)
    cfg = TrainConfig(name="t", data_dir=".", preset="tiny", amp=amp, grad_accum=accum, grad_checkpoint=ckpt)
    var = cfg.variant
    env = DistEnv(0, 1, 0, torch.device("cpu"))
    gen = TrainingGenerator(build_generator(var, True), var.segment_frames, var.audio.hop_length, ckpt)
    state = make_state(cfg, gen, MultiPeriodDiscriminator(var.periods, var.disc_scale), env)
    items = []
    for n in (16, 12):
        wave = torch.randn(1, n * var.audio.hop_length) * 0.1
        items.append({"phone": torch.randn(n, var.content_dim), "pitch": torch.randint(1, 255, (n,)),
                      "pitchf": torch.full((n,), 140.0), "wave": wave,
                      "spec": spectrogram(wave, var.audio)[0, :, :n]})  # fmt: skip
    before = [p.detach().clone() for p in state.synth.parameters()]
    batch = collate(items)
    if amp == "fp16":  # start where the scaler's back-off would arrive after ~10 skipped steps
        state.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**6)
    for _ in range(3):
        for i in range(accum):
            losses = micro_step(state, batch, cfg, var, env, i == accum - 1)
            assert all(np.isfinite(v) for v in losses.values())
        optimizer_step(state)
        if any(not torch.equal(a, b) for a, b in zip(before, state.synth.parameters(), strict=True)):
            break
    else:
        pytest.fail("the generator never changed")
    assert state.scaler.is_enabled() == (amp == "fp16")


@pytest.mark.slow
@pytest.mark.parametrize(("sr", "version", "f0"), [("48k", "v2", False), ("32k", "v1", True)])
def test_other_variants_train_export_and_load(sr: str, version: str, f0: bool, tmp_path: Path) -> None:
    from models.rvc import load_voice
    from training.data import collate
    from training.discriminators import MultiPeriodDiscriminator
    from training.distenv import DistEnv
    from training.export import export_voice
    from training.generator import TrainingGenerator, build_generator
    from training.loop import make_state, micro_step, optimizer_step
    from training.losses import spectrogram

    torch.manual_seed(0)
    cfg = TrainConfig(name="t", data_dir=".", preset="tiny", sr=sr, version=version, f0=f0)
    var = cfg.variant
    env = DistEnv(0, 1, 0, torch.device("cpu"))
    gen = TrainingGenerator(build_generator(var, f0), var.segment_frames, var.audio.hop_length)
    state = make_state(cfg, gen, MultiPeriodDiscriminator(var.periods, var.disc_scale), env)
    items = []
    for n in (16, 12):
        wave = torch.randn(1, n * var.audio.hop_length) * 0.1
        item = {
            "phone": torch.randn(n, var.content_dim),
            "wave": wave,
            "spec": spectrogram(wave, var.audio)[0, :, :n],
        }
        if f0:
            item |= {"pitch": torch.randint(1, 255, (n,)), "pitchf": torch.full((n,), 140.0)}
        items.append(item)
    batch = collate(items)
    losses = micro_step(state, batch, cfg, var, env, True)
    optimizer_step(state)
    assert all(np.isfinite(v) for v in losses.values())
    path = export_voice(state.synth.state_dict(), var, f0, tmp_path / "v.pth", "1epoch")
    raw = torch.load(path, weights_only=True)
    assert raw["sr"] == sr and raw["version"] == version and raw["f0"] == int(f0)
    voice = load_voice(path)
    audio = voice.synthesizer.infer(
        batch.phone, batch.phone_lengths, batch.pitch, batch.pitchf, torch.zeros(2).long()
    )
    assert audio[0].shape == (2, 1, 16 * var.audio.hop_length)
