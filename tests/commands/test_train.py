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
