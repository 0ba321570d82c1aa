"""`cocosnet train` end to end on the procedural landscapes: train, resume, load with Translator."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.inference import Translator
from cocosnet.training import checkpoint as ckpt

COMMON = ["--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--batch-size", "2", "--length", "8",
          "--no-progress", "--log-every", "1"]


def test_train_resume_and_load_for_inference(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--max-steps", "3", "--time-limit", "0.0001", "--out", str(out)]) == 0
    first = ckpt.read_training_state(ckpt.latest_checkpoint(out))
    assert first["step"] >= 1  # stopped by the (tiny) time limit after a step or so, with a checkpoint
    assert main(["train", *COMMON, "--max-steps", "3", "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"resumed at step {first['step']}" in err
    state = ckpt.read_training_state(ckpt.latest_checkpoint(out))
    assert state["step"] == 3
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["step"] == 3 and config["model"]["name"] == "tiny"

    translator = Translator.from_pretrained(out / "model", device="cpu")
    sample = build_dataset("landscapes", split="test", size=64, length=1)[0]
    result = translator.translate(sample["label"], sample["exemplar"], sample["exemplar_label"])
    assert result.image.shape == (1, 3, 64, 64) and torch.isfinite(result.image).all()
    # without EMA the exported weights are the last checkpoint's
    exported = load_file(str(out / "model" / "model.safetensors"))
    last = load_file(str(ckpt.latest_checkpoint(out) / "model.safetensors"))
    assert exported.keys() == last.keys() and all(torch.equal(exported[k], last[k]) for k in last)


def test_missing_vgg_weights_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--preset", "tiny", "--data", "landscapes", "--max-steps", "1", "--out", str(tmp_path),
                 "--vgg", str(tmp_path / "vgg19_conv.pth")])
    assert code == 2
    err = capsys.readouterr().err
    assert "VGG19 weights file not found" in err and "vgg19_conv.pth" in err


def test_needs_a_stopping_rule(tmp_path):
    with pytest.raises(SystemExit):
        main(["train", "--preset", "tiny"])  # --data missing: argparse error
    assert main(["train", "--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--out", str(tmp_path)]) == 2


def test_init_from_starts_a_fine_tune_from_exported_weights(tmp_path, capsys):
    """--init-from loads generator + correspondence (step 0, fresh optimisers, fresh D when the folder has none);
    a folder of another preset is refused with the mismatching key."""
    src = tmp_path / "src"
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(src)]) == 0
    exported = load_file(str(src / "model" / "model.safetensors"))

    from cocosnet.presets import get_preset
    from cocosnet.training import TrainConfig, Trainer
    from cocosnet.vgg import load_vgg19

    trainer = Trainer(get_preset("tiny"), TrainConfig(batch_size=2, seed=1), load_vgg19("random"))
    fresh_d = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    trainer.init_from(src / "model")
    state = trainer.model.state_dict()
    assert all(torch.equal(state[k], exported[k]) for k in exported) and trainer.step == 0
    assert all(torch.equal(v, fresh_d[k]) for k, v in trainer.discriminator.state_dict().items())
    # a training checkpoint folder also carries its discriminator
    step_dir = ckpt.latest_checkpoint(src)
    trainer.init_from(step_dir)
    saved_d = load_file(str(step_dir / "discriminator.safetensors"))
    assert all(torch.equal(trainer.discriminator.state_dict()[k], saved_d[k]) for k in saved_d)

    out = tmp_path / "ft"
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out), "--init-from", str(src / "model")]) == 0
    assert json.loads((out / "model" / "config.json").read_text())["step"] == 1

    other = Trainer(get_preset("tiny", ngf=4), TrainConfig(batch_size=2), load_vgg19("random"))
    with pytest.raises(ValueError, match=r"model\.safetensors does not fit this model:\n"
                       r"  \d+ keys differ in shape, first:\n.*checkpoint \[.*\] vs model"):
        other.init_from(src / "model")


def _train_parser():
    import argparse

    from cocosnet.commands import train

    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser


def test_train_flags_are_generated_from_every_train_config_field():
    import dataclasses

    from cocosnet.training import TrainConfig

    actions = {a.dest: a for a in _train_parser()._actions}
    for f in dataclasses.fields(TrainConfig):
        assert f.name in actions, f.name
        flag = actions[f.name]
        assert f"--{f.name.replace('_', '-')}" in flag.option_strings
        assert flag.default == (None if f.name == "num_workers" else f.default), f.name  # workers: auto
        assert "(default: %(default)s)" in flag.help
    # today's spellings and their defaults still parse
    args = _train_parser().parse_args(["--preset", "tiny", "--data", "landscapes", "--time-limit", "2", "--ema",
                                       "0.9", "--workers", "1", "--keep", "2", "--no-progress", "--channels-last",
                                       "--amp", "bf16", "--lr-d", "1e-3"])
    assert (args.time_limit_min, args.ema_decay, args.num_workers, args.keep_checkpoints) == (2.0, 0.9, 1, 2)
    assert (args.progress, args.channels_last, args.amp, args.lr_d, args.save_every) == (False, True, "bf16",
                                                                                         1e-3, 500)


def test_set_flags_reach_their_sections_and_unknown_fields_are_named():
    from cocosnet.commands.train import parse_set_flags

    sets = parse_set_flags(["ngf=4", "loss.perceptual=1", "sampling.hard_reference_probability=0", "warp_chunk=64",
                            "runtime.band_rows=0", "warp=patch"])
    assert sets == {"model": {"ngf": 4, "warp": "patch"}, "loss": {"perceptual": 1.0},
                    "sampling": {"hard_reference_probability": 0.0},
                    "runtime": {"warp_chunk": 64, "band_rows": 0}}
    assert isinstance(sets["loss"]["perceptual"], float)
    with pytest.raises(ValueError, match=r"--set loss.perc=1: LossConfig has no field 'perc'; its fields: "
                                         r"feat_match, perceptual"):
        parse_set_flags(["loss.perc=1"])
    with pytest.raises(ValueError, match="perceptual takes a float, got 'high'"):
        parse_set_flags(["loss.perceptual=high"])
    with pytest.raises(ValueError, match="unknown section 'optim'"):
        parse_set_flags(["optim.lr=1"])
    with pytest.raises(ValueError, match=r"ModelConfig has no field 'warp_mask' \(warp_mask moved: use "
                                         r"LossConfig.warp_mask"):
        parse_set_flags(["warp_mask=false"])
    with pytest.raises(ValueError, match="warp_impl must be one of auto, dense, sdpa, chunked"):
        parse_set_flags(["runtime.warp_impl=fast"])


def test_set_loss_weight_round_trips_through_a_training_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out), "--set", "loss.perceptual=0.5",
                 "--set", "loss.warp_mask=0", "--set", "sampling.real_reference_probability=0.5",
                 "--set", "warp_chunk=32"]) == 0
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["loss"]["perceptual"] == 0.5 and config["loss"]["warp_mask"] == 0.0
    assert "warp_chunk" not in config["model"]
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(tmp_path / "x"), "--set", "loss.perc=1"]) == 2
    assert "LossConfig has no field 'perc'" in capsys.readouterr().err


def _checkpoint_names(out) -> list[str]:
    return [p.name for p in ckpt.list_checkpoints(out)]


def test_a_run_folder_is_refused_without_resume_and_replaced_with_overwrite(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--max-steps", "2", "--save-every", "1", "--out", str(out)]) == 0
    before = (out / "model" / "model.safetensors").read_bytes()
    capsys.readouterr()
    # a shorter new run would have lost its checkpoints to keep-last-K and overwritten model/: refused, untouched
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (f"cocosnet train: error: {out} holds a run at step 2 (checkpoints/step_00000002, model/): pass --resume "
            "to continue it or --overwrite to replace it") in err
    assert "Traceback" not in err
    assert _checkpoint_names(out) == ["step_00000001", "step_00000002"]
    assert (out / "model" / "model.safetensors").read_bytes() == before
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out), "--resume", "--overwrite"]) == 2
    assert "pass --resume (continue the run in the folder) or --overwrite (replace it), not both" in \
        capsys.readouterr().err

    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out), "--overwrite"]) == 0
    err = capsys.readouterr().err
    assert f"--overwrite: removed the earlier run's checkpoints, model, tensorboard from {out}" in err
    assert _checkpoint_names(out) == ["step_00000001"]
    assert json.loads((out / "model" / "config.json").read_text())["step"] == 1

    # a folder of other files is not a run, but it is not empty either
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(other)]) == 2
    assert f"{other} is not empty (notes.txt): pass --resume" in capsys.readouterr().err


def test_out_that_is_a_file_is_refused_before_anything_loads(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("keep me")
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"cocosnet train: error: cannot write {target}: it is a regular file" in err and "not a directory" in err
    assert "preset tiny at" not in err  # refused before the networks were built
    assert target.read_text() == "keep me"


def test_interrupted_saves_are_cleaned_on_the_next_start(tmp_path, capsys):
    """A SIGKILL inside write_checkpoint leaves `.step_*.tmp` (removed) or, while a step was saved again,
    `.step_*.old` holding the only copy of that step (put back)."""
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--max-steps", "1", "--out", str(out)]) == 0
    root = out / "checkpoints"
    (root / "step_00000001").rename(root / ".step_00000001.old")
    partial = root / ".step_00000002.k3j9x.tmp"
    partial.mkdir()
    (partial / "model.safetensors").write_bytes(b"half")
    capsys.readouterr()
    assert main(["train", *COMMON, "--max-steps", "2", "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"restored {root / 'step_00000001'} from .step_00000001.old" in err
    assert f"removed {partial}, left by a checkpoint save that was interrupted" in err
    assert "resumed at step 1" in err
    assert sorted(p.name for p in root.iterdir()) == ["step_00000001", "step_00000002"]


def test_random_vgg_is_seeded_so_a_resumed_run_equals_the_straight_run(tmp_path):
    from cocosnet.vgg import load_vgg19

    rng = torch.get_rng_state()
    a, b = load_vgg19("random", seed=3), load_vgg19("random", seed=3)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is left alone
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    flat = ["--decay-start", "1"]  # constant lr: the schedule does not depend on --max-steps
    assert main(["train", *COMMON, *flat, "--max-steps", "2", "--out", str(tmp_path / "straight")]) == 0
    assert main(["train", *COMMON, *flat, "--max-steps", "1", "--out", str(tmp_path / "split")]) == 0
    assert main(["train", *COMMON, *flat, "--max-steps", "2", "--out", str(tmp_path / "split"), "--resume"]) == 0
    straight = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    split = load_file(str(tmp_path / "split" / "model" / "model.safetensors"))
    assert straight.keys() == split.keys() and all(torch.equal(straight[k], split[k]) for k in straight)


def test_a_signal_that_stops_the_run_early_exits_75_and_a_finished_run_0(tmp_path, capsys, monkeypatch):
    import os
    import signal

    from cocosnet.commands.train import EXIT_STOPPED_BY_SIGNAL
    from cocosnet.training import Trainer

    step = Trainer.train_step

    def step_then_sigterm(self, batch):
        values = step(self, batch)
        os.kill(os.getpid(), signal.SIGTERM)  # the trainer's handler: finish this step, checkpoint, stop
        return values

    out = tmp_path / "run"
    with monkeypatch.context() as m:
        m.setattr(Trainer, "train_step", step_then_sigterm)
        assert main(["train", *COMMON, "--max-steps", "3", "--out", str(out)]) == EXIT_STOPPED_BY_SIGNAL == 75
    captured = capsys.readouterr()
    assert "stopped early by a signal at step 1, checkpoint saved; exit status 75 (EX_TEMPFAIL): rerun with " \
           "--resume" in captured.out
    assert _checkpoint_names(out) == ["step_00000001"]
    assert main(["train", *COMMON, "--max-steps", "3", "--out", str(out), "--resume"]) == 0
    assert _checkpoint_names(out)[-1] == "step_00000003"

    help_text = _train_parser().format_help()
    assert "75 (EX_TEMPFAIL)" in " ".join(help_text.split())


def test_one_data_rule_for_train_and_evaluate(tmp_path, capsys):
    """Only the literal `--data landscapes` is the procedural set: a missing folder is an error naming it in both
    commands, and an existing folder is never silently replaced by the procedural landscapes."""
    nope = tmp_path / "nope"
    for argv in (["train", "--preset", "landscapes", "--data", str(nope), "--vgg", "random", "--max-steps", "1",
                  "--out", str(tmp_path / "run")],
                 ["evaluate", "--data", str(nope), "--dataset", "ade20k", "--out", str(tmp_path / "eval")]):
        assert main(argv) == 2, argv
        assert f"error: {nope}: data set folder not found" in capsys.readouterr().err
    folder = tmp_path / "photos"
    folder.mkdir()
    assert main(["train", "--preset", "tiny", "--data", str(folder), "--vgg", "random", "--max-steps", "1",
                 "--out", str(tmp_path / "run")]) == 2
    assert f"the landscapes are generated, not read from {folder}: use --data landscapes" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_on_landscapes_checks_health_on_the_val_scenes(tmp_path, capsys):
    from cocosnet.commands.train import build_heldout_dataset
    from cocosnet.presets import get_preset

    preset = get_preset("tiny")
    train = build_dataset("landscapes", None, "train", size=64, length=8)
    held, why_not = build_heldout_dataset("landscapes", "landscapes", 64, preset, 0, train, 2)
    assert why_not is None and held.split == "val" and len(held) == 2
    assert {held[i]["key"] for i in range(2)}.isdisjoint(train[i]["key"] for i in range(8))
    out = tmp_path / "run"
    assert main(["train", *COMMON, "--time-limit", "1e-9", "--health-every", "1", "--health-batch", "2",
                 "--out", str(out)]) == 0  # stops before its first step: the line comes when the run starts
    assert "health checks: fixed batch of 2 held-out samples of the val split" in capsys.readouterr().err
