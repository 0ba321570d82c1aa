"""Multi-scale PatchGAN discriminator: outputs per scale and layer, the pooled scales, spectral norm, both modes."""

import pytest
import torch
import torch.nn.functional as F

from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.presets import get_model_config

from .helpers.grad_modes import assert_same_in_both_modes


def _cfg(**overrides):
    return get_model_config("tiny", **{"ndf": 8, **overrides})


def _input(cfg, n: int = 2, size: int = 64) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(n, cfg.semantic_nc + 3, size, size) * 2 - 1  # cat(semantics, image)


def test_every_layer_of_every_scale_is_returned_with_the_patchgan_shapes():
    """k=4, padding 1: three stride-2 layers halve 64 -> 32 -> 16 -> 8, the stride-1 layers give 7 then 6 logits;
    the second scale sees the input pooled to 32 and ends at 2x2."""
    cfg = _cfg()
    d = MultiscaleDiscriminator(cfg).eval()
    with torch.no_grad():
        out = d(_input(cfg))
    assert len(out) == cfg.num_D == 2
    assert all(len(feats) == cfg.n_layers_D + 1 for feats in out)
    shapes = [[tuple(f.shape) for f in feats] for feats in out]
    assert shapes[0] == [(2, 8, 32, 32), (2, 16, 16, 16), (2, 32, 8, 8), (2, 64, 7, 7), (2, 1, 6, 6)]
    assert shapes[1] == [(2, 8, 16, 16), (2, 16, 8, 8), (2, 32, 4, 4), (2, 64, 3, 3), (2, 1, 2, 2)]


def test_each_next_scale_sees_the_input_average_pooled_without_the_padding():
    cfg = _cfg()
    d = MultiscaleDiscriminator(cfg).eval()
    seen = []
    d.discriminator_1.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    x = _input(cfg)
    with torch.no_grad():
        d(x)
    pooled = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
    assert torch.equal(seen[0], pooled)
    # count_include_pad=False: a corner averages its 4 real pixels, not 9 with zeros
    assert seen[0][0, 0, 0, 0].item() == pytest.approx(x[0, 0, :2, :2].mean().item(), abs=1e-6)


def test_spectral_norm_updates_u_in_training_and_not_in_eval():
    cfg = _cfg(num_D=1)
    d = MultiscaleDiscriminator(cfg)
    conv = d.discriminator_0.model1[0][0]  # spectral-normed, bias-free, then InstanceNorm
    assert {"weight_orig", "weight_u", "weight_v"} <= set(dict(conv.named_parameters()) | dict(conv.named_buffers()))
    x = _input(cfg)
    u0 = conv.weight_u.clone()
    d.train()(x)
    assert not torch.equal(conv.weight_u, u0)  # one power iteration per training forward
    d.eval()
    u1 = conv.weight_u.clone()
    with torch.no_grad():
        a, b = d(x), d(x)
    assert torch.equal(conv.weight_u, u1)
    assert torch.equal(a[0][-1], b[0][-1])  # sigma from the stored u, v: the same logits twice


def test_the_official_segmentation_head_is_built_but_not_called():
    cfg = _cfg(num_D=1)
    d = MultiscaleDiscriminator(cfg).eval()
    called = []
    d.discriminator_0.dec.register_forward_hook(lambda *a: called.append(1))
    d(_input(cfg))[0][-1].sum().backward()
    assert not called and all(p.grad is None for p in d.discriminator_0.dec.parameters())
    assert d.discriminator_0.dec[-1].out_channels == cfg.semantic_nc


@pytest.mark.parametrize("attention", [True, False])
def test_discriminator_is_the_same_in_both_modes(attention):
    cfg = _cfg(d_attention=attention)
    torch.manual_seed(0)
    d = MultiscaleDiscriminator(cfg).eval()
    if attention:
        with torch.no_grad():
            d.discriminator_0.attn.gamma.fill_(0.5)  # let the attention change the output
    out = assert_same_in_both_modes(d, _input(cfg))
    assert len(out) == cfg.num_D * (cfg.n_layers_D + 1)
