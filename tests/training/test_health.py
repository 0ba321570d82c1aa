"""Health alarms: fire on deliberately collapsed models, stay quiet on the bundled one; --stop-on-collapse."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from cocosnet.cli import main
from cocosnet.commands.train import build_heldout_dataset
from cocosnet.data import build_dataset
from cocosnet.data.landscapes import make_scene
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.inference import default_checkpoint
from cocosnet.model import CoCosNet
from cocosnet.presets import ModelConfig, get_model_config, get_preset
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training import checkpoint as ckpt
from cocosnet.training.health import LossWatch, diagnose, match_statistics, measure
from cocosnet.weights import load_native_state, read_native_config

from .conftest import make_batch


def test_match_statistics_of_uniform_constant_and_permutation_matches():
    n = 64
    uniform = match_statistics(torch.full((1, n, n), 1.0 / n))
    assert abs(uniform["match_entropy"] - 1.0) < 1e-5 and "uniform_match" in diagnose(uniform, 7)
    constant = torch.zeros(1, n, n)
    constant[..., 5] = 1.0
    stats = match_statistics(constant)
    assert stats["argmax_mode_share"] == 1.0 and stats["match_entropy"] < 1e-6
    assert "constant match at step 7" in diagnose(stats, 7)["constant_match"]
    perm = torch.eye(n)[torch.randperm(n, generator=torch.Generator().manual_seed(0))][None]
    assert match_statistics(perm)["argmax_mode_share"] == 1.0 / n and diagnose(match_statistics(perm), 7) == {}


def _prepared(cfg, n=2):
    b = make_batch(cfg, n, seed=1, self_ref=[0.0] * n)
    model = CoCosNet(cfg)
    sem = model.encode(b["label"])
    ex = model.encode(b["exemplar_label"]) if b.get("exemplar_label") is not None else None
    return {"semantic": sem, "exemplar": b["exemplar"], "exemplar_semantic": ex, "real": b["image"],
            "self_ref": torch.zeros(n)}


def test_alarms_fire_on_a_collapsed_correspondence_and_an_identity_generator():
    cfg = get_model_config("tiny")
    torch.manual_seed(0)
    model, d = CoCosNet(cfg), MultiscaleDiscriminator(cfg)
    b = _prepared(cfg)
    with torch.no_grad():  # constant match features: every query sees the same keys -> a uniform softmax
        model.correspondence.phi.weight.zero_()
        model.correspondence.phi.bias.zero_()
    values = measure(model, d, b)
    assert values["match_entropy"] > 0.99 and "uniform_match" in diagnose(values, 3)
    assert model.training and d.training  # modes restored

    class CopyWarped(torch.nn.Module):  # identity collapse: the output is the warped exemplar
        def forward(self, x, *args, **kw):
            return x[:, :3]

    model.generator = CopyWarped()
    values = measure(model, None, b)
    assert values["output_vs_warped_l1"] == 0.0 and "identity_copy" in diagnose(values, 3)


def test_quiet_on_the_bundled_model():
    folder = default_checkpoint()
    cfg = ModelConfig.from_dict(read_native_config(folder)["model"])
    model = CoCosNet(cfg)
    model.load_state_dict(load_native_state(folder))
    ds = build_dataset("landscapes", None, "test", size=cfg.image_size, length=3, seed=0)
    samples = [ds[i] for i in range(3)]
    b = {"semantic": model.encode(torch.stack([s["label"] for s in samples])),
         "exemplar": torch.stack([s["exemplar"] for s in samples]),
         "exemplar_semantic": model.encode(torch.stack([s["exemplar_label"] for s in samples])),
         "real": torch.stack([s["image"] for s in samples]), "self_ref": torch.zeros(3)}
    values = measure(model.train(), None, b)
    assert diagnose(values, 1) == {}, values
    assert values["match_entropy"] < 0.5 and values["output_vs_warped_l1"] > 0.05


def test_loss_spikes_and_skipped_steps():
    watch = LossWatch()
    for step in range(30):
        assert watch.update({"feat_match": 1.0 + 0.01 * (step % 3)}, step) == {}
    assert "loss_spike" in watch.update({"feat_match": 9.0}, 30)
    alarms = {}
    for step in range(31, 50):
        alarms = watch.update({"feat_match": float("nan"), "_skipped_g": 1.0}, step)
    assert "diverging" in alarms["non_finite"]


def test_stop_on_collapse_saves_and_exits_3(tmp_path, capsys):
    cfg = get_model_config("tiny")
    torch.manual_seed(5)
    model, d = CoCosNet(cfg), MultiscaleDiscriminator(cfg)
    with torch.no_grad():
        model.correspondence.phi.weight.zero_()
        model.correspondence.phi.bias.zero_()
    official = tmp_path / "official"
    official.mkdir()
    torch.save(model.generator.state_dict(), official / "latest_net_G.pth")
    torch.save(model.correspondence.state_dict(), official / "latest_net_Corr.pth")
    torch.save(d.state_dict(), official / "latest_net_D.pth")
    out = tmp_path / "run"
    code = main(["train", "--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--length", "4",
                 "--batch-size", "2", "--max-steps", "5", "--no-progress", "--init-official", str(official),
                 "--freeze", "correspondence", "--health-every", "1", "--health-batch", "2", "--stop-on-collapse",
                 "--out", str(out)])
    assert code == 3
    err = capsys.readouterr().err
    assert "health warning (uniform_match): correspondence collapsed to a uniform match at step 1" in err
    assert ckpt.read_training_state(ckpt.latest_checkpoint(out))["step"] == 1


def _folder_data(root, splits: dict[str, int]):
    """A folder data set of landscape scenes: images/<split>/<split>N.png (or images/ when split is "") + labels/."""
    for split, n in splits.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(exist_ok=True)
        for i in range(n):
            ids, photo = make_scene(40 + 10 * len(split) + i, 64, ("lake", "coast", "valley")[i % 3])
            Image.fromarray(photo).save(root / "images" / split / f"{split or 'all'}{i}.png")
            Image.fromarray(ids.astype(np.uint8)).save(root / "labels" / f"{split or 'all'}{i}.png")
    return root


def _health_trainer(vgg):
    """A tiny trainer whose fit() stops before its first step (a zero time limit): the health batch is chosen,
    no training step is paid for."""
    tc = TrainConfig(batch_size=2, time_limit_min=1e-9, health_every=1, health_batch=2, progress=False)
    return get_preset("tiny"), Trainer(get_preset("tiny"), tc, vgg)


def test_the_health_batch_is_drawn_from_the_val_split(tmp_path, capsys, vgg):

    root = _folder_data(tmp_path / "data", {"train": 4, "val": 3})
    train = build_dataset("folder", root, "train", crop_size=64, label_nc=10)
    preset, trainer = _health_trainer(vgg)
    held, why_not = build_heldout_dataset("folder", str(root), 64, preset, 0, train, 2, label_nc=10)
    assert why_not is None and held.keys == [f"images/val/val{i}.png" for i in range(3)]
    trainer.fit(train, tmp_path / "run", health_data=held)
    assert "health checks: fixed batch of 2 held-out samples of the val split" in capsys.readouterr().err
    rng = torch.get_rng_state()
    real = trainer.health_batch()["real"]
    assert torch.equal(torch.get_rng_state(), rng)
    expected = torch.stack([held[0]["image"], held[2]["image"]])  # evenly spaced: the first and the last
    assert torch.equal(real, expected)
    assert not any(torch.equal(real[0], train[i]["image"]) for i in range(len(train)))


def test_without_a_val_split_the_health_batch_is_training_samples_and_says_so(tmp_path, capsys, vgg):

    root = _folder_data(tmp_path / "data", {"": 4})  # images/ only: every split reads the same images
    train = build_dataset("folder", root, "train", crop_size=64, label_nc=10)
    preset, trainer = _health_trainer(vgg)
    held, why_not = build_heldout_dataset("folder", str(root), 64, preset, 0, train, 2, label_nc=10)
    assert held is None and "its val split is the training images" in why_not
    missing = build_heldout_dataset("folder", str(_folder_data(tmp_path / "only_train", {"train": 2})), 64, preset,
                                    0, train, 2, label_nc=10)
    assert missing[0] is None and missing[1].startswith("no val split")
    trainer.fit(train, tmp_path / "run")
    assert "health checks: no held-out split given; measuring fixed training samples" in capsys.readouterr().err
    batch = trainer.health_batch()
    assert batch["real"].shape[0] == 2 and batch["self_ref"].shape == (2,)
