"""Health alarms: fire on deliberately collapsed models, stay quiet on the bundled one; --stop-on-collapse."""

from __future__ import annotations

import torch

from cocosnet.cli import main
from cocosnet.data import build_dataset
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.inference import default_checkpoint
from cocosnet.model import CoCosNet
from cocosnet.presets import ModelConfig, get_model_config
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
