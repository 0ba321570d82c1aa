"""Fine-tuning: the authors' G + Corr + D loaded strictly (full official shapes), named mismatches, --freeze."""

from __future__ import annotations

import json

import pytest
import torch

from cocosnet.cli import main
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.model import CoCosNet
from cocosnet.presets import get_model_config, get_preset
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training.finetune import load_official_weights

from .conftest import make_batch


@pytest.fixture(scope="session")
def official_ade20k(official_dir, recipe, tmp_path_factory):
    """latest_net_{G,Corr,D}.pth at the full official ADE20k shapes, built once from the manifests (seconds)."""
    folder = tmp_path_factory.mktemp("official_ade20k")
    states = {}
    for net, seed in (("G", 1), ("Corr", 2), ("D", 3)):
        manifest = json.loads((official_dir / f"ade20k_net{net}.json").read_text())
        states[net] = recipe(manifest, seed)
        torch.save(states[net], folder / f"latest_net_{net}.pth")
    return folder, states


def _empty_networks(cfg):
    """Full-width modules without an initialisation (what loading overwrites anyway)."""
    with torch.device("meta"):
        model, d = CoCosNet(cfg), MultiscaleDiscriminator(cfg)
    return model.to_empty(device="cpu"), d.to_empty(device="cpu")


def test_official_g_corr_d_load_strictly_at_full_shapes(official_ade20k):
    folder, states = official_ade20k
    model, d = _empty_networks(get_model_config("ade20k"))
    notes = load_official_weights(model, d, folder)
    assert [n.split(" from ")[0] for n in notes] == [f"--init-official: {w}" for w in
                                                     ("generator", "correspondence", "discriminator")]
    for module, net in ((model.generator, "G"), (model.correspondence, "Corr"), (d, "D")):
        own = module.state_dict()
        assert own.keys() == states[net].keys()
        assert all(torch.equal(own[k], states[net][k]) for k in own), net


def test_a_mismatched_or_missing_discriminator(official_ade20k, tmp_path):
    folder, states = official_ade20k
    model, d = _empty_networks(get_model_config("ade20k"))
    for net in ("G", "Corr"):
        (tmp_path / f"latest_net_{net}.pth").symlink_to(folder / f"latest_net_{net}.pth")
    notes = load_official_weights(model, d, tmp_path)  # no D: a fresh one, said so
    assert "latest_net_D.pth not found" in notes[-1] and "starts fresh" in notes[-1]
    bad = dict(states["D"])
    key = next(k for k, v in bad.items() if v.dim() == 4)
    bad[key] = torch.zeros(3, 3, 1, 1)
    torch.save(bad, tmp_path / "latest_net_D.pth")
    with pytest.raises(ValueError) as err:
        load_official_weights(model, d, tmp_path)
    want = list(states["D"][key].shape)
    assert f"{key}: checkpoint [3, 3, 1, 1] vs model {want}" in str(err.value)
    assert "latest_net_D.pth does not fit this model" in str(err.value)


def test_freeze_keeps_the_frozen_part_bit_identical(vgg):
    preset = get_preset("tiny")
    trainer = Trainer(preset, TrainConfig(batch_size=2, freeze=("correspondence",), seed=3), vgg)
    corr0 = {k: v.clone() for k, v in trainer.model.correspondence.state_dict().items()}
    gen0 = [p.detach().clone() for p in trainer.model.generator.parameters()]
    d0 = [p.detach().clone() for p in trainer.discriminator.parameters() if p.requires_grad]
    frozen_ids = {id(p) for p in trainer.model.correspondence.parameters()}
    for step in range(2):
        trainer.train_step(make_batch(preset.model, 2, seed=step, self_ref=[1.0, 0.0]))
    corr1 = trainer.model.correspondence.state_dict()
    assert all(torch.equal(corr1[k], v) for k, v in corr0.items())  # weights and buffers
    assert all(p.grad is None and not p.requires_grad for p in trainer.model.correspondence.parameters())
    assert not frozen_ids & {id(p) for p in trainer.opt_g.state}  # no optimiser state for frozen parameters
    assert all(not torch.equal(a, p) for a, p in zip(gen0, trainer.model.generator.parameters(), strict=True)
               if p.dim() > 1)
    d1 = [p for p in trainer.discriminator.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(d0, d1, strict=True))


def test_freeze_flag_takes_repeats_and_comma_lists(tmp_path, capsys):
    base = ["train", "--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--max-steps", "1"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--freeze", "correspondence,bogus", "--out", str(tmp_path / "a")])
    assert exc.value.code == 2
    assert "invalid choice bogus" in capsys.readouterr().err
    with pytest.raises(ValueError, match="freeze takes correspondence and/or generator"):
        TrainConfig(freeze=("discriminator",))
    assert TrainConfig.from_dict({"freeze": ["generator", "generator"]}).freeze == ("generator",)


def test_init_official_trains_two_steps_through_the_cli(tmp_path, capsys):
    """An official-layout folder (latest_net_*.pth; the tiny preset's widths, see docs) -> two steps, with the
    correspondence frozen: the saved correspondence is the loaded one, the generator moved."""
    cfg = get_model_config("tiny")
    torch.manual_seed(5)
    model, d = CoCosNet(cfg), MultiscaleDiscriminator(cfg)
    official = tmp_path / "official"
    official.mkdir()
    torch.save({f"module.{k}": v for k, v in model.generator.state_dict().items()}, official / "latest_net_G.pth")
    torch.save(model.correspondence.state_dict(), official / "latest_net_Corr.pth")
    torch.save(d.state_dict(), official / "latest_net_D.pth")
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--length", "4",
            "--batch-size", "2", "--max-steps", "2", "--no-progress", "--init-official", str(official),
            "--freeze", "correspondence", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "--init-official: discriminator from" in text and "2 steps (max_steps)" in text
    from safetensors.torch import load_file

    saved = load_file(str(out / "model" / "model.safetensors"))
    corr = model.correspondence.state_dict()
    assert all(torch.equal(saved[f"correspondence.{k}"], v) for k, v in corr.items())
    gen = model.generator.state_dict()
    assert any(not torch.equal(saved[f"generator.{k}"], v) for k, v in gen.items() if v.dim() > 1)
    # resume after an init: the init applies at step 0 only
    assert main([*args[:args.index("--max-steps")], "--max-steps", "3", "--no-progress", "--init-official",
                 str(official), "--freeze", "correspondence", "--out", str(out), "--resume"]) == 0
    assert "--init-official" not in capsys.readouterr().out
