"""Trainer: one G+D step per preset, compute_losses, AMP, NaN guard, init, schedule, memory and layout options."""

from __future__ import annotations

import math

import pytest
import torch

from cocosnet.training import OFFICIAL_LOSS_NAMES, TrainConfig, Trainer, init_weights
from cocosnet.training.trainer import _GeneratorForward
from cocosnet.vgg import load_vgg19

from .conftest import flat_params, make_batch, tiny_preset

EXPECTED_TERMS = {
    # the terms each preset's official train options switch on
    "ade20k": {"domain_align", "gan", "gan_feat", "feat_match", "perceptual", "contextual", "warp_mask"},
    "celebahq_edge": {"domain_align", "warp_cycle", "gan", "gan_feat", "feat_match", "perceptual", "contextual"},
    "deepfashion": {"domain_align", "warp_self", "gan", "gan_feat", "feat_match", "perceptual", "contextual"},
    "landscapes": {"domain_align", "gan", "gan_feat", "feat_match", "perceptual", "contextual", "warp_mask"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_TERMS))
def test_one_step_per_preset_is_finite_and_moves_every_network(name, vgg):
    preset = tiny_preset(name)
    trainer = Trainer(preset, TrainConfig(batch_size=2), vgg)
    before = {k: flat_params(m) for k, m in [("G", trainer.model.generator), ("Corr", trainer.model.correspondence),
                                              ("D", trainer.discriminator)]}
    values = trainer.train_step(make_batch(preset.model, 2, seed=1))
    terms = {k for k in values if not k.startswith("_")}
    assert terms == EXPECTED_TERMS[name] | {"d_fake", "d_real"}
    assert all(math.isfinite(v) for v in values.values())
    assert trainer.skipped_steps == 0 and trainer.step == 1
    for key, module in [("G", trainer.model.generator), ("Corr", trainer.model.correspondence),
                        ("D", trainer.discriminator)]:
        moved = (flat_params(module) - before[key]).abs()
        assert moved.max() > 1e-6, f"{key} did not move"
    # the official never-called segmentation head of D stays frozen
    dec = trainer.discriminator.discriminator_0.dec
    assert all(not p.requires_grad for p in dec.parameters())


def test_compute_losses_returns_official_terms_without_stepping(vgg):
    preset = tiny_preset("ade20k")
    trainer = Trainer(preset, TrainConfig(batch_size=2), vgg)
    before = flat_params(trainer.model).clone(), flat_params(trainer.discriminator).clone()
    losses = trainer.compute_losses(make_batch(preset.model, 2, seed=3))
    assert set(losses) <= set(OFFICIAL_LOSS_NAMES)
    assert {"gan", "d_fake", "d_real", "contextual", "warp_mask"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    # hinge D terms at init: D(x) ~ 0 -> each weighted term ~ 10 * 1
    assert losses["d_fake"].item() == pytest.approx(10.0, abs=1.0)
    assert losses["d_real"].item() == pytest.approx(10.0, abs=1.0)
    assert torch.equal(flat_params(trainer.model), before[0])
    assert torch.equal(flat_params(trainer.discriminator), before[1])
    assert trainer.step == 0


def test_compute_losses_weights_match_the_pure_functions(vgg):
    """The trainer applies exactly the LossConfig weights to the pure loss functions."""
    from cocosnet import losses as L

    preset = tiny_preset("celebahq_edge")
    trainer = Trainer(preset, TrainConfig(batch_size=2), vgg)
    batch = make_batch(preset.model, 2, seed=4, self_ref=[1.0, 0.0])
    state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    d_state = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    got = trainer.compute_losses(batch)
    # recompute by hand from the same starting state (spectral-norm u, v included)
    trainer.model.load_state_dict(state)
    trainer.discriminator.load_state_dict(d_state)
    b = trainer.prepare(batch)
    out = _GeneratorForward(trainer.model)(b["semantic"], b["exemplar"], b["exemplar_semantic"], b["real"], True,
                                           False, True)
    ff, rf = trainer.vgg(out["image"]), trainer.vgg(b["real"])
    sw = L.pseudo_pair_weights(b["self_ref"])
    lc = preset.loss
    assert got["feat_match"].item() == pytest.approx(
        10.0 * L.feature_matching_loss(list(ff.values()), list(rf.values()), sw).item(), rel=1e-5)
    assert got["perceptual"].item() == pytest.approx(0.001 * L.perceptual_loss(ff["r42"], rf["r42"]).item(), rel=1e-5)
    assert got["warp_cycle"].item() == pytest.approx(L.warp_cycle_loss(out["warp_cycle"], b["exemplar"]).item(),
                                                     rel=1e-5)
    assert got["domain_align"].item() == pytest.approx(
        10.0 * L.domain_alignment_loss(out["feature_seg"], out["feature_gt"]).item(), rel=1e-5)
    assert lc.feat_match == 10.0 and lc.perceptual == 0.001 and lc.warp_cycle == 1.0


def test_bf16_autocast_step(vgg):
    preset = tiny_preset("tiny")
    trainer = Trainer(preset, TrainConfig(batch_size=2, amp="bf16"), vgg)
    before = flat_params(trainer.model).clone()
    values = trainer.train_step(make_batch(preset.model, 2, seed=5))
    assert all(math.isfinite(v) for v in values.values())
    assert trainer.skipped_steps == 0
    assert (flat_params(trainer.model) - before).abs().max() > 1e-6
    # parameters stay float32 (autocast only changes the compute dtype)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_nan_guard_skips_the_step(vgg):
    preset = tiny_preset("tiny")
    trainer = Trainer(preset, TrainConfig(batch_size=2), vgg)
    batch = make_batch(preset.model, 2, seed=6)
    batch["image"][0, 0, 0, 0] = float("nan")
    before_g, before_d = flat_params(trainer.model).clone(), flat_params(trainer.discriminator).clone()
    values = trainer.train_step(batch)
    assert trainer.skipped_steps == 1 and values["_skipped_g"] == 1.0 and values["_skipped_d"] == 1.0
    assert torch.equal(flat_params(trainer.model), before_g)
    assert torch.equal(flat_params(trainer.discriminator), before_d)
    # the next, clean batch trains normally
    trainer.train_step(make_batch(preset.model, 2, seed=7))
    assert trainer.skipped_steps == 1
    assert (flat_params(trainer.model) - before_g).abs().max() > 1e-6


def test_init_weights_is_xavier_normal_with_gain_002():
    torch.manual_seed(0)
    conv = torch.nn.utils.spectral_norm(torch.nn.Conv2d(64, 64, 3))
    plain = torch.nn.Conv2d(64, 32, 1)
    prelu = torch.nn.PReLU()
    init_weights(torch.nn.ModuleList([conv, plain, prelu]), 0.02)
    expected = 0.02 * math.sqrt(2.0 / (64 * 9 + 64 * 9))
    assert conv.weight_orig.std().item() == pytest.approx(expected, rel=0.05)
    assert plain.weight.std().item() == pytest.approx(0.02 * math.sqrt(2.0 / (64 + 32)), rel=0.1)
    assert conv.bias.abs().max() == 0 and plain.bias.abs().max() == 0
    assert prelu.weight.item() == pytest.approx(0.25)


def test_lr_schedule_constant_then_linear_decay():
    tc = TrainConfig(max_steps=100, decay_start=0.5)
    assert tc.g_lr == pytest.approx(1e-4) and tc.d_lr == pytest.approx(4e-4)
    assert [tc.lr_factor(s) for s in (0, 49, 50, 75, 99)] == pytest.approx([1, 1, 1, 0.5, 0.02])
    assert TrainConfig(max_steps=None).lr_factor(10**6) == 1.0


def test_optimizers_follow_the_official_settings(vgg):
    trainer = Trainer(tiny_preset("tiny"), TrainConfig(), vgg)
    g, d = trainer.opt_g, trainer.opt_d
    assert len(g.param_groups) == 2  # generator, correspondence
    assert all(gr["betas"] == (0.0, 0.9) and gr["eps"] == 1e-3 and gr["lr"] == pytest.approx(1e-4)
               for gr in g.param_groups)
    assert d.param_groups[0]["betas"] == (0.0, 0.9) and d.param_groups[0]["eps"] == 1e-8
    assert d.param_groups[0]["lr"] == pytest.approx(4e-4)


def test_host_memory_helpers_change_nothing_but_the_allocator(vgg):
    from cocosnet import memory

    assert isinstance(memory.trim_heap(), bool)
    assert memory.set_malloc_mmap_threshold(0) is False  # 0 = leave glibc's default
    preset = tiny_preset("tiny")
    a = Trainer(preset, TrainConfig(batch_size=2, trim_host_memory=False), vgg)
    b = Trainer(preset, TrainConfig(batch_size=2, trim_host_memory=True), vgg)
    assert not a.trims_host_memory and b.trims_host_memory
    # by default the heap is trimmed only where memory is the point: with gradient checkpointing
    assert not Trainer(preset, TrainConfig(batch_size=2), vgg).trims_host_memory
    assert Trainer(preset, TrainConfig(batch_size=2, grad_checkpointing=True), vgg).trims_host_memory
    batch = make_batch(preset.model, 2, seed=3)
    la, lb = a.train_step(batch), b.train_step(batch)
    assert la == lb
    assert torch.equal(flat_params(a.model), flat_params(b.model))


def test_channels_last_step_equals_the_default_layout():
    """channels_last changes only the memory layout: the same losses and the same update as NCHW.

    Run in float64. The two layouts sum in different orders, so their gradients differ by rounding, and Adam's first
    step, lr * g / (|g| + eps), turns the rounding noise of a gradient that is zero in exact arithmetic (a conv bias
    before an instance norm) into a full +-lr step whose sign depends on the CPU's kernels: in float32 ~0.1% of the
    elements differ by ~lr on an AVX-512 CPU and fewer on others. In float64 that noise (~1e-16 relative) is far
    below eps, so every element must agree: the update's sensitivity is at most lr / eps = 0.1 per unit of
    gradient, so a 1e-9 bound leaves room for gradient differences up to 1e-8, ~1e8 times float64 rounding
    (measured: 4e-13)."""
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(1234)
        vgg = load_vgg19("random")
        preset = tiny_preset("tiny")
        batch = make_batch(preset.model, 2, seed=3)
        runs = []
        for channels_last in (False, True):
            trainer = Trainer(preset, TrainConfig(batch_size=2, channels_last=channels_last), vgg)
            before = flat_params(trainer.model).clone()
            runs.append((trainer.train_step(batch), flat_params(trainer.model) - before, trainer))
    finally:
        torch.set_default_dtype(torch.float32)
    (loss_a, step_a, _), (loss_b, step_b, tr_b) = runs
    assert step_a.dtype == torch.float64
    assert tr_b.model.generator.fc.weight.is_contiguous(memory_format=torch.channels_last)
    assert loss_a.keys() == loss_b.keys()
    assert all(math.isclose(loss_a[k], loss_b[k], rel_tol=1e-10, abs_tol=1e-12) for k in loss_a)
    assert step_a.abs().max() > 1e-5  # a real step was taken
    torch.testing.assert_close(step_b, step_a, rtol=0, atol=1e-9)
