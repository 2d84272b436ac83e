"""Real training through the real CLI: 2 DDP processes (gloo), kill + resume, export, index, LLVC."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.conftest import ROOT
from training.events import Checkpoint, Done, Event, Stage, StepLosses, parse_event


def _cmd(speech_dir: Path, hubert: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "app", "train", "rvc", "--data", str(speech_dir), "--name", "tiny",
        "--output", str(out), "--preset", "tiny", "--model-version", "v1", "--f0-method", "dsp",
        "--content-encoder", str(hubert), "--epochs", "50", "--batch", "1", "--save-every", "1",
        "--devices", "cpu", "--nproc", "2", "--json", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _run(cmd: list[str]) -> tuple[int, list[Event]]:
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=240)
    events = [e for e in map(parse_event, proc.stdout.splitlines()) if e is not None]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.returncode, events


def _run_until_checkpoint(cmd: list[str]) -> list[Event]:
    """Starts the job and kills the whole process group right after its first checkpoint."""
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    events: list[Event] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            event = parse_event(line)
            if event is not None:
                events.append(event)
            if isinstance(event, Checkpoint):
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    return events


@pytest.fixture(scope="module")
def trained(speech_dir: Path, tiny_hubert: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("runs")
    _, first = _run(_cmd(speech_dir, tiny_hubert, out, "--max-steps", "2"))
    return {"out": out, "first": first}


@pytest.mark.slow
def test_two_ddp_steps_then_kill_and_resume(trained: dict, speech_dir: Path, tiny_hubert: Path) -> None:
    first: list[Event] = trained["first"]
    steps = [e.step for e in first if isinstance(e, StepLosses)]
    assert steps == [1, 2]
    assert all(np.isfinite(list(e.losses.values())).all() for e in first if isinstance(e, StepLosses))
    ckpts = [e for e in first if isinstance(e, Checkpoint)]
    assert ckpts[-1].step == 2 and Path(ckpts[-1].path).is_file()

    killed = _run_until_checkpoint(_cmd(speech_dir, tiny_hubert, trained["out"]))
    resumed_stage = next(e for e in killed if isinstance(e, Stage) and e.name == "train")
    assert "resumed" in resumed_stage.message and "step 2" in resumed_stage.message
    assert next(e for e in killed if isinstance(e, StepLosses)).step == 3
    first_ckpt = next(e for e in killed if isinstance(e, Checkpoint))
    on_disk = sorted((Path(trained["out"]) / "tiny" / "checkpoints").glob("ckpt_*.pt"))
    latest = int(on_disk[-1].stem.split("_")[1])  # the killed job may have saved once more
    assert latest >= first_ckpt.step > 2

    _, last = _run(_cmd(speech_dir, tiny_hubert, trained["out"], "--max-steps", str(latest + 2)))
    stage = next(e for e in last if isinstance(e, Stage) and e.name == "train")
    assert on_disk[-1].name in stage.message and f"step {latest}" in stage.message
    assert next(e.step for e in last if isinstance(e, StepLosses)) == latest + 1
    final = [e for e in last if isinstance(e, Checkpoint)][-1]
    data = torch.load(final.path, map_location="cpu", weights_only=True)
    assert data["step"] == final.step == latest + 2
    # AdamW counts its own steps: equal to the total only if its state survived both restarts
    adam_steps = {int(s["step"]) for s in data["optim_g"]["state"].values()}
    assert adam_steps == {latest + 2}
    done = next(e for e in last if isinstance(e, Done))
    trained["done"] = done


@pytest.mark.slow
def test_exported_voice_and_index_work(trained: dict, tiny_hubert: Path, speech_dir: Path) -> None:
    import faiss

    from models.kinds import RvcVersion
    from models.rvc import load_voice
    from training.features import make_content_fn

    done = next(e for e in trained["first"] if isinstance(e, Done))
    raw = torch.load(done.outputs["voice"], map_location="cpu", weights_only=True)
    assert set(raw) == {"weight", "config", "info", "sr", "f0", "version"} and len(raw["config"]) == 18
    assert raw["sr"] == "40k" and raw["f0"] == 1 and raw["version"] == "v1"
    assert all(v.dtype == torch.float16 for v in raw["weight"].values())
    assert not any(k.startswith("enc_q") for k in raw["weight"]) and "dec.ups.0.weight_g" in raw["weight"]

    voice = load_voice(done.outputs["voice"])
    wav, sr = sf.read(str(speech_dir / "s1.wav"), dtype="float32")
    assert sr == 16000
    feats = make_content_fn(str(tiny_hubert), RvcVersion.V1, torch.device("cpu"))(wav)
    phone = torch.from_numpy(np.repeat(feats, 2, axis=0))[None]
    n = phone.shape[1]
    f0 = torch.full((1, n), 150.0)
    pitch = torch.full((1, n), 60, dtype=torch.long)
    audio = voice.synthesizer.infer(phone, torch.tensor([n]), pitch, f0, torch.zeros(1, dtype=torch.long))[0]
    assert audio.shape[-1] == n * 400 and torch.isfinite(audio).all() and float(audio.abs().max()) > 0

    index_path = Path(done.outputs["index"])
    assert index_path.name.startswith("added_IVF") and index_path.name.endswith(
        "_Flat_nprobe_1_tiny_v1.index"
    )
    index = faiss.read_index(str(index_path))
    assert index.d == 256 and index.ntotal > 100
    query = feats[:5].astype(np.float32)
    dist, ids = index.search(query, 1)
    assert (ids >= 0).all() and np.isfinite(dist).all()

    # the user-facing conversion: the reference pipeline with and without the index (same noise)
    from models.rvc.inference import open_pipeline
    from models.rvc.pipeline import PipelineConfig

    outs = []
    for idx in (None, index_path):
        pipe = open_pipeline(
            done.outputs["voice"], tiny_hubert, None, idx, "dsp", PipelineConfig(index_rate=1.0)
        )
        assert (pipe.index is not None) == (idx is not None)
        torch.manual_seed(0)
        y, rate = pipe.convert_array(wav, sr)
        assert rate == 40000 and abs(len(y) - len(wav) * 2.5) < 800 and np.isfinite(y).all()
        outs.append(y)
    assert not np.allclose(outs[0], outs[1])  # retrieval changed the features


def test_incompatible_pretrained_is_named_before_training(trained: dict, tmp_path: Path) -> None:
    from models.errors import ModelFormatError
    from training.cli import build_state
    from training.config import TrainConfig
    from training.distenv import DistEnv

    done = next(e for e in trained["first"] if isinstance(e, Done))
    voice = done.outputs["voice"]
    env = DistEnv(0, 1, 0, torch.device("cpu"))
    base = {"name": "x", "data_dir": str(tmp_path), "preset": "tiny", "version": "v1", "device": "cpu"}
    with pytest.raises(ModelFormatError, match=r"tiny\.pth is an exported voice file"):
        build_state(TrainConfig(**base, pretrained_g=voice, pretrained_d=voice), env)
    ckpt = sorted((Path(trained["out"]) / "tiny" / "checkpoints").glob("ckpt_*.pt"))[-1]
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    g, d = tmp_path / "G.pth", tmp_path / "D.pth"
    torch.save({"model": raw["net_g"]}, g)
    torch.save({"model": raw["net_d"]}, d)
    build_state(TrainConfig(**base, pretrained_g=str(g), pretrained_d=str(d)), env)  # fits: loads strictly
    with pytest.raises(ModelFormatError, match=r"G\.pth is not a pretrained generator for v2 40k"):
        build_state(TrainConfig(**{**base, "version": "v2"}, pretrained_g=str(g), pretrained_d=str(d)), env)
    with pytest.raises(ModelFormatError, match="not a pretrained discriminator"):
        build_state(TrainConfig(**base, pretrained_g=str(g), pretrained_d=str(g)), env)


@pytest.mark.slow
def test_llvc_distillation_two_steps_loads(trained: dict, speech_dir: Path, tiny_hubert: Path) -> None:
    from models.llvc import load_voice
    from training.distenv import DistEnv
    from training.distill import DistillConfig, run_distill
    from training.events import EventWriter

    done = next(e for e in trained["first"] if isinstance(e, Done))
    corpus = Path(trained["out"]) / "corpus"
    corpus.mkdir()
    for name in ("s0.wav", "s2.wav"):
        shutil.copy(speech_dir / name, corpus / name)
    cfg = DistillConfig(
        name="student", teacher=done.outputs["voice"], corpus=str(corpus), out_dir=str(trained["out"]),
        content_encoder=str(tiny_hubert), f0_method="dsp", preset="tiny", max_steps=2, batch_size=2,
        segment_seconds=0.5, device="cpu",
    )  # fmt: skip
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    run_distill(cfg, DistEnv(0, 1, 0, torch.device("cpu")), EventWriter(Sink()))  # type: ignore[arg-type]
    events = [e for e in map(parse_event, "".join(lines).splitlines()) if e is not None]
    assert [e.step for e in events if isinstance(e, Checkpoint)] == [2]
    teacher_out = sorted((Path(cfg.exp_dir) / "corpus" / "teacher").glob("*.wav"))
    assert len(teacher_out) >= 2
    for path in teacher_out:  # the teacher really converted: same length as its source, not silent
        y, sr = sf.read(str(path))
        x, _ = sf.read(str(Path(cfg.exp_dir) / "corpus" / "gt" / path.name))
        assert sr == 16000 and len(y) == len(x) and np.abs(y).max() > 0
    final = next(e for e in events if isinstance(e, Done))
    voice = load_voice(final.outputs["voice"], config=final.outputs["config"])
    state = voice.init_state()
    y, state = voice.step(np.zeros(voice.hop, np.float32), state)
    assert y.shape == (voice.hop,) and np.isfinite(y).all()
