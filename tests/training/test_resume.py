"""Checkpoints: exact resume after SIGTERM, file layout, weights_only loading, inference export, keep-last-K."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from cocosnet.model import CoCosNet
from cocosnet.presets import ModelConfig
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training import checkpoint as ckpt

from .conftest import SyntheticDataset, make_batch, tiny_preset


def _opts(**kw):
    base = dict(batch_size=2, max_steps=4, save_every=100, ema_decay=0.9, progress=False, log_every=1000,
                image_every=0, decay_start=0.5)
    base.update(kw)
    return TrainConfig(**base)


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_two_steps_sigterm_resume_two_steps_equals_four_straight(tmp_path, vgg):
    preset = tiny_preset("tiny")
    # 6 samples / batch 2 = 3 batches per epoch, so the 4 steps cross an epoch boundary; lr decays in steps 3-4
    straight = Trainer(preset, _opts(), vgg)
    res = straight.fit(SyntheticDataset(preset.model, n=6), tmp_path / "straight")
    assert res["step"] == 4 and res["stopped_by"] == "max_steps"

    first = Trainer(preset, _opts(), vgg)
    # SIGTERM while the 2nd batch is read: step 2 completes, then the trainer checkpoints and stops
    res1 = first.fit(SyntheticDataset(preset.model, n=6, kill_at=3), tmp_path / "resumed")
    assert res1["stopped_by"] == "signal" and res1["step"] == 2
    state = ckpt.read_training_state(res1["checkpoint"])  # torch.load(weights_only=True)
    assert state["step"] == 2 and state["data"] == {"epoch": 0, "batch_in_epoch": 2}

    second = Trainer(preset, _opts(), vgg)
    res2 = second.fit(SyntheticDataset(preset.model, n=6), tmp_path / "resumed", resume=True)
    assert res2["step"] == 4
    _assert_same_state(second.model.state_dict(), straight.model.state_dict())  # incl. spectral-norm u, v
    _assert_same_state(second.discriminator.state_dict(), straight.discriminator.state_dict())
    _assert_same_state(second.ema.model.state_dict(), straight.ema.model.state_dict())
    for o1, o2 in [(second.opt_g, straight.opt_g), (second.opt_d, straight.opt_d)]:
        s1, s2 = o1.state_dict()["state"], o2.state_dict()["state"]
        assert s1.keys() == s2.keys()
        assert all(torch.equal(s1[i]["exp_avg_sq"], s2[i]["exp_avg_sq"]) for i in s1)
    # the losses of the resumed steps 3-4 are those of the straight run
    assert [h["contextual"] for h in res2["history"]] == [h["contextual"] for h in res["history"][2:]]


def test_checkpoint_layout_keep_last_k_and_inference_export(tmp_path, vgg):
    preset = tiny_preset("tiny")
    trainer = Trainer(preset, _opts(max_steps=3, save_every=1, keep_checkpoints=2, ema_decay=0.0, log_every=1,
                                    image_every=1), vgg)
    trainer.fit(SyntheticDataset(preset.model, n=4), tmp_path)
    kept = ckpt.list_checkpoints(tmp_path)
    assert [p.name for p in kept] == ["step_00000002", "step_00000003"]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp leftovers
    last = kept[-1]
    assert {p.name for p in last.iterdir()} == {"model.safetensors", "discriminator.safetensors", "config.json",
                                                "training_state.pt"}
    weights = load_file(str(last / "model.safetensors"))
    assert {k.split(".")[0] for k in weights} == {"correspondence", "generator"}
    assert any(k.endswith("weight_u") for k in weights)  # spectral-norm vectors travel with the weights
    state = torch.load(last / "training_state.pt", weights_only=True)
    assert state["step"] == 3 and len(state["rng"]) == 1 and state["rng"][0]["torch"].dtype == torch.uint8

    # <out>/model is what Translator.from_pretrained reads: config["model"] + a strict state dict
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    cfg = ModelConfig.from_dict(config["model"])
    assert cfg == preset.model and config["step"] == 3
    model = CoCosNet(cfg)
    model.load_state_dict(load_file(str(tmp_path / "model" / "model.safetensors")), strict=True)
    model.eval()
    trainer.model.eval()
    b = trainer.prepare(make_batch(cfg, 1, seed=2))
    with torch.no_grad():
        a = model(b["semantic"], b["exemplar"], b["exemplar_semantic"]).image
        e = trainer.model(b["semantic"], b["exemplar"], b["exemplar_semantic"]).image
    assert torch.equal(a, e)
    # TensorBoard: every loss term, lr, speed, and the input|exemplar|warped|output|gt grid
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"loss/contextual", "loss/warp_mask", "loss/d_real", "lr/g", "lr/d", "perf/step_s",
            "perf/images_per_s"} <= scalars
    assert [e.step for e in events.Scalars("loss/gan")] == [1, 2, 3]
    grid = events.Images("train/input_exemplar_warped_output_gt")[-1]
    assert (grid.width, grid.height) == (5 * 64, 2 * 64)  # 5 columns, one row per sample of the batch


def test_rng_state_round_trip():
    import random

    import numpy as np

    s = ckpt.rng_state()
    a = (random.random(), float(np.random.rand()), torch.rand(1).item())
    ckpt.set_rng_state(s)
    assert (random.random(), float(np.random.rand()), torch.rand(1).item()) == a


def test_resume_after_changing_run_options_and_from_an_old_style_checkpoint(tmp_path, vgg):
    """--resume compares only ModelConfig: other chunk sizes, another attention kernel or band height resume (they
    change no weight), and a checkpoint written while ModelConfig still held them is accepted."""
    from cocosnet.runtime import RuntimeOptions

    preset = tiny_preset("tiny")
    first = Trainer(preset, _opts(max_steps=1, ema_decay=0.0), vgg)
    res = first.fit(SyntheticDataset(preset.model, n=4), tmp_path)
    state_file = res["checkpoint"] / "training_state.pt"
    state = torch.load(state_file, weights_only=True)
    state["model_config"].update(warp_impl="auto", warp_chunk=4096, attention_impl="auto", band_rows=64,
                                 warp_mask=True)  # what older versions wrote
    torch.save(state, state_file)

    runtime = RuntimeOptions(warp_chunk=5, attention_chunk=7, attention_impl="dense", band_rows=0)
    second = Trainer(preset, _opts(max_steps=2, ema_decay=0.0), vgg, runtime=runtime)
    assert second.model.correspondence.runtime.warp_chunk == 5 and second.model.generator.attn.chunk == 7
    res2 = second.fit(SyntheticDataset(preset.model, n=4), tmp_path, resume=True)
    assert res2["step"] == 2 and len(res2["history"]) == 1  # resumed at step 1, one more step

    other = Trainer(tiny_preset("ade20k"), _opts(max_steps=2, ema_decay=0.0), vgg)
    with pytest.raises(ValueError, match="different model config"):
        other.load_checkpoint(res["checkpoint"])


def _fake_checkpoint(out, step: int) -> None:
    d = ckpt.checkpoint_dir(out, step)
    d.mkdir(parents=True)
    (d / ckpt.STATE_FILE).write_bytes(b"state")
    (d / "model.safetensors").write_bytes(b"weights")


def test_fit_refuses_a_folder_holding_a_run_unless_resumed_or_overwritten(tmp_path, vgg):
    """The sweep's case: a new 1-step run into a folder holding steps 3 and 4 lost its own checkpoint to keep-last-K
    and a later resume continued the old run. fit refuses it; overwrite removes the old run first."""
    preset = tiny_preset("tiny")
    for step in (3, 4):
        _fake_checkpoint(tmp_path, step)
    (tmp_path / "model").mkdir()
    trainer = Trainer(preset, _opts(max_steps=1, ema_decay=0.0), vgg)
    with pytest.raises(ckpt.RunDirError, match=r"holds a run at step 4 \(checkpoints/step_00000004, model/\): pass "
                                               r"--resume to continue it or --overwrite to replace it"):
        trainer.fit(SyntheticDataset(preset.model, n=4), tmp_path)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000003", "step_00000004"]
    assert trainer.step == 0

    res = trainer.fit(SyntheticDataset(preset.model, n=4), tmp_path, overwrite=True)
    assert res["step"] == 1 and [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["step_00000001"]
    assert json.loads((tmp_path / "model" / "config.json").read_text())["step"] == 1


def test_run_dir_checks_and_interrupted_save_recovery(tmp_path):
    ckpt.check_run_dir(tmp_path / "new", resume=False, overwrite=False)  # missing or empty: fine
    ckpt.check_run_dir(tmp_path, resume=False, overwrite=False)
    assert ckpt.describe_run_dir(tmp_path) is None
    for name in "abcdefgh":
        (tmp_path / name).write_text("")
    assert ckpt.describe_run_dir(tmp_path) == f"{tmp_path} is not empty (a, b, c, d, e, f, and 2 more)"
    ckpt.check_run_dir(tmp_path, resume=True, overwrite=False)
    ckpt.check_run_dir(tmp_path, resume=False, overwrite=True)
    assert ckpt.clear_run(tmp_path) == []  # not a run's files: left alone
    assert len(list(tmp_path.iterdir())) == 8

    out = tmp_path / "run"
    _fake_checkpoint(out, 1)
    _fake_checkpoint(out, 2)
    root = out / "checkpoints"
    (root / "step_00000002").rename(root / ".step_00000002.old")  # killed between the two renames of a re-save
    _fake_checkpoint(out, 3)
    (root / ".step_00000003.old").mkdir()  # killed after the new step_3 was in place: the old copy is redundant
    (root / ".step_00000004.x1y2.tmp").mkdir()  # killed while assembling step 4
    (root / ".step_notes.tmp").mkdir()  # not one of write_checkpoint's names: kept
    notes = ckpt.recover_interrupted_saves(out)
    assert notes == [f"restored {root / 'step_00000002'} from .step_00000002.old, left by a save that was interrupted",
                     f"removed {root / '.step_00000003.old'}, left by a checkpoint save that was interrupted",
                     f"removed {root / '.step_00000004.x1y2.tmp'}, left by a checkpoint save that was interrupted"]
    assert sorted(p.name for p in root.iterdir()) == [".step_notes.tmp", "step_00000001", "step_00000002",
                                                      "step_00000003"]
    assert ckpt.recover_interrupted_saves(out) == []
    assert [p.name for p in ckpt.clear_run(out)] == ["checkpoints"] and not any(out.iterdir())
