"""Gradient checkpointing through the model's hooks: what is recomputed, and the gradients and steps it leaves equal."""

from __future__ import annotations

import pytest
import torch

from cocosnet.correspondence import DomainAdaptor
from cocosnet.model import CoCosNet
from cocosnet.nn import SPADE, ResidualBlock, SelfAttention, SPADEResnetBlock
from cocosnet.presets import get_model_config
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training import grad_checkpoint as gc

from .conftest import flat_params, make_batch, tiny_preset


def _g_grads(trainer, batch):
    b = trainer.prepare(batch)
    g, _ = trainer._generator_losses(b, trainer.g_forward)
    trainer.opt_g.zero_grad(set_to_none=True)
    sum(g.values()).backward()
    return torch.cat([p.grad.reshape(-1) for p in trainer.g_params])


def test_the_recomputed_pieces_are_the_ones_the_model_offers():
    """Every SPADE and shared residual block, the self-attention, both domain adaptors (their blocks nested), each
    SPADE layer of the generator's image/2 and image-resolution blocks, and the correlation + warp; once only."""
    model = CoCosNet(get_model_config("tiny"))
    n = gc.enable_gradient_checkpointing(model)
    gen, corr = model.generator, model.correspondence
    blocks = (SPADEResnetBlock, ResidualBlock, SelfAttention, DomainAdaptor)
    expected = {m for m in model.modules() if isinstance(m, blocks)}
    expected |= {m for block in (gen.up_2, gen.up_3) for m in block.modules() if isinstance(m, SPADE)}
    wrapped = {m for m in model.modules() if gc.is_checkpointed(m.forward)}
    assert wrapped == expected
    assert set(gen.checkpointable_modules()) | set(corr.checkpointable_modules()) <= wrapped
    assert gc.is_checkpointed(corr.correlate_and_warp)
    # adaptors' blocks 2 x 3, adaptors 2, shared blocks, G's blocks 7, attention 1, SPADE layers 2 x 3, the warp 1
    assert n == len(expected) + 1 == 6 + 2 + model.cfg.corr_blocks + 7 + 1 + 6 + 1
    assert gc.enable_gradient_checkpointing(model) == 0


def test_correlation_false_keeps_the_warp_stored_and_the_discriminator_offers_its_attention():
    from cocosnet.discriminator import MultiscaleDiscriminator

    cfg = get_model_config("tiny")
    model = CoCosNet(cfg)
    gc.enable_gradient_checkpointing(model, correlation=False)
    assert not gc.is_checkpointed(model.correspondence.correlate_and_warp)
    d = MultiscaleDiscriminator(cfg)
    assert gc.enable_gradient_checkpointing(d) == cfg.num_D
    assert all(gc.is_checkpointed(m.forward) for m in d.modules() if isinstance(m, SelfAttention))


def test_without_a_graph_or_in_eval_the_pieces_run_plainly(monkeypatch):
    """Recomputation needs a graph to recompute for: inference and eval-mode forwards never call checkpoint."""
    cfg = get_model_config("tiny")
    model = CoCosNet(cfg)
    gc.enable_gradient_checkpointing(model)
    calls = []
    real = gc.checkpoint
    monkeypatch.setattr(gc, "checkpoint", lambda *a, **k: calls.append(1) or real(*a, **k))
    sem = model.encode(torch.randint(0, 10, (1, 1, 64, 64)))
    ex = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        model(sem, ex, sem)
    model.eval()(sem, ex, sem)
    assert not calls
    model.train()(sem, ex, sem)
    assert len(calls) > 20


def test_gradient_checkpointing_gives_the_same_gradients(vgg):
    preset = tiny_preset("tiny")
    batch = make_batch(preset.model, 2, seed=8)
    plain = Trainer(preset, TrainConfig(batch_size=2), vgg)
    ckpt = Trainer(preset, TrainConfig(batch_size=2, grad_checkpointing=True), vgg)
    assert torch.equal(flat_params(plain.model), flat_params(ckpt.model))
    g1, g2 = _g_grads(plain, batch), _g_grads(ckpt, batch)
    assert g1.abs().max() > 0
    torch.testing.assert_close(g2, g1, rtol=1e-5, atol=1e-7)
    # the spectral-norm vectors advanced exactly once per forward in both
    for (k, a), (_, b) in zip(plain.model.state_dict().items(), ckpt.model.state_dict().items(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=k)


@pytest.mark.parametrize("name", ["ade20k", "celebahq_edge", "deepfashion"])
def test_full_checkpointing_gives_the_same_gradients_and_steps(vgg, name):
    """Every recomputed piece (SPADE and shared blocks, self-attention, whole domain adaptors with their blocks nested
    inside, correlation + warp) on the official presets' loss sets: warped mask, cycle warp, patch warp."""
    preset = tiny_preset(name)
    batch = make_batch(preset.model, 2, seed=9, self_ref=[1.0, 0.0])
    plain = Trainer(preset, TrainConfig(batch_size=2), vgg)
    ckpt = Trainer(preset, TrainConfig(batch_size=2, grad_checkpointing=True), vgg)
    wrapped = {type(m).__name__ for m in ckpt.model.modules() if gc.is_checkpointed(m.forward)}
    assert {"SPADEResnetBlock", "ResidualBlock", "SelfAttention", "DomainAdaptor", "SPADE"} <= wrapped
    assert gc.is_checkpointed(ckpt.model.correspondence.correlate_and_warp)
    g1, g2 = _g_grads(plain, batch), _g_grads(ckpt, batch)
    assert g1.abs().max() > 0
    torch.testing.assert_close(g2, g1, rtol=1e-5, atol=1e-7)
    # whole training steps (G then D, gradients freed after each step) stay together too
    plain2 = Trainer(preset, TrainConfig(batch_size=2), vgg)
    ckpt2 = Trainer(preset, TrainConfig(batch_size=2, grad_checkpointing=True), vgg)
    for i in range(2):
        la = plain2.train_step(make_batch(preset.model, 2, seed=20 + i, self_ref=[1.0, 0.0]))
        lb = ckpt2.train_step(make_batch(preset.model, 2, seed=20 + i, self_ref=[1.0, 0.0]))
        assert la.keys() == lb.keys()
        for k in la:
            assert lb[k] == pytest.approx(la[k], rel=1e-5, abs=1e-7), k
    assert all(p.grad is None for p in ckpt2.g_params + ckpt2.d_params)  # freed after the optimiser steps
    for (k, a), (_, b) in zip(plain2.model.state_dict().items(), ckpt2.model.state_dict().items(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6, msg=k)
    torch.testing.assert_close(flat_params(ckpt2.discriminator), flat_params(plain2.discriminator),
                               rtol=1e-5, atol=1e-6)
