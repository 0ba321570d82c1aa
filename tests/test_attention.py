"""The memory-efficient warp and self-attention equal the dense (official) computation."""

import pytest
import torch

from cocosnet.correspondence import Correspondence
from cocosnet.nn import SelfAttention, softmax_attention
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions


@pytest.mark.parametrize("impl", ["chunked", "sdpa"])
@pytest.mark.parametrize("d,e", [(72, 3), (8, 32), (16, 16)])
def test_softmax_attention_equals_dense(impl, d, e):
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(2, 300, d), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(2, 200, d), dim=-1)
    v = torch.randn(2, 200, e)
    dense = softmax_attention(q, k, v, 100.0, "dense")  # temperature 0.01: a sharp softmax
    out = softmax_attention(q, k, v, 100.0, impl, chunk=64)
    assert out.shape == (2, 300, e)
    assert torch.allclose(out, dense, atol=2e-6)


def test_chunked_gradients_equal_dense():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 130, 12, requires_grad=True) for _ in range(3))
    grads = []
    for impl in ("dense", "chunked"):
        (softmax_attention(q, k, v, 3.0, impl, chunk=32) ** 2).sum().backward()
        grads.append([t.grad.clone() for t in (q, k, v)])
        for t in (q, k, v):
            t.grad = None
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


def test_auto_picks_chunked_with_grad_and_rejects_unknown():
    with pytest.raises(ValueError, match="unknown attention implementation"):
        softmax_attention(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), impl="fast")


@pytest.mark.parametrize("impl", ["chunked", "sdpa"])
def test_self_attention_equals_dense(impl):
    torch.manual_seed(0)
    dense = SelfAttention(16, "dense")
    dense.gamma.data.fill_(0.7)
    x = torch.randn(2, 16, 12, 12)
    for _ in range(10):  # training forwards converge the spectral-norm u, v
        dense(x)
    other = SelfAttention(16, impl, chunk=20)
    other.load_state_dict(dense.state_dict())
    dense.eval(), other.eval()
    with torch.no_grad():
        assert torch.allclose(other(x), dense(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("warp", ["nearest", "bilinear", "patch"])
def test_correspondence_memory_efficient_warp_equals_dense(warp):
    torch.manual_seed(0)
    cfg = get_model_config("tiny", warp=warp)  # maskmix and the warped mask, 4x4 patches too
    dense = Correspondence(cfg, RuntimeOptions(warp_impl="dense"))
    for _ in range(3):  # a few training forwards converge the spectral-norm u, v (as trained weights have)
        dense(torch.rand(1, 10, 64, 64), torch.rand(1, 3, 64, 64), torch.rand(1, 10, 64, 64))
    dense.eval()
    sem = torch.zeros(2, 10, 64, 64).scatter_(1, torch.randint(0, 10, (2, 1, 64, 64)), 1.0)
    ex = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        want = dense(sem, ex, sem, return_mask=True)
        for impl in ("chunked", "sdpa"):
            eff = Correspondence(cfg, RuntimeOptions(warp_impl=impl, warp_chunk=100)).eval()
            eff.load_state_dict(dense.state_dict())
            got = eff(sem, ex, sem, return_mask=True)
            assert torch.allclose(got.warp_out, want.warp_out, atol=1e-5), impl
            assert torch.allclose(got.warp_mask, want.warp_mask, atol=1e-5), impl


def test_cycle_warp_of_identical_inputs_returns_the_exemplar_closely():
    """Warping an exemplar onto itself and back with a sharp softmax reproduces the pooled exemplar."""
    torch.manual_seed(0)
    cfg = get_model_config("tiny", maskmix=False)
    corr = Correspondence(cfg).eval()
    with torch.no_grad():
        # make theta and phi identical so each position matches itself best
        corr.phi.load_state_dict(corr.theta.state_dict())
        corr.adaptive_model_seg = corr.adaptive_model_img
        corr.cfg = cfg
        img = torch.rand(1, 3, 64, 64) * 2 - 1
        out = corr(img, img, return_cycle=True, return_corr=True)
    assert out.warp_cycle.shape == (1, 3, 16, 16)
    diag = out.corr[0].diagonal()
    assert diag.mean() > 0.5  # each position's softmax mass sits mostly on itself
    pooled = torch.nn.functional.avg_pool2d(img, 4)
    assert (out.warp_cycle - pooled).abs().mean() < (pooled - pooled.mean()).abs().mean()


def test_patch_warp_with_maskmix_copies_full_resolution_patches_and_resized_labels_change_nothing():
    """Landscapes-style patch warp (maskmix on): a warp of an image onto itself with a near-hard softmax returns
    the image itself, 4x4 texture included (the bilinear warp would return it pooled to 1/4 and upsampled), and
    run_model's exemplar label resized to the feature size first gives the same images as the full-size map."""
    from cocosnet.inference import run_model
    from cocosnet.model import CoCosNet

    torch.manual_seed(0)
    cfg = get_model_config("tiny", warp="patch", temperature=1e-4)
    model = CoCosNet(cfg).eval()
    corr = Correspondence(cfg).eval()
    with torch.no_grad():
        corr.phi.load_state_dict(corr.theta.state_dict())
        corr.adaptive_model_img = corr.adaptive_model_seg
        onehot = model.encode(torch.randint(0, 10, (1, 1, 64, 64)))
        # the same one-hot map on both sides: every position matches itself, whatever the exemplar's pixels
        out = corr(onehot, onehot, onehot, return_corr=True)
        assert out.corr[0].diagonal().min() > 0.99
        img = torch.rand(1, 3, 64, 64) * 2 - 1
        # the softmax above, applied to the image's 4x4 patches: the image back, texture and all
        values = torch.nn.functional.unfold(img, 4, stride=4).transpose(1, 2)
        back = torch.nn.functional.fold(torch.matmul(out.corr, values).transpose(1, 2), (64, 64), 4, stride=4)
        assert torch.allclose(back, img, atol=1e-2)

        ex, ex_ids = torch.rand(2, 3, 64, 64) * 2 - 1, torch.randint(0, 10, (2, 1, 64, 64))
        sem_ids = torch.randint(0, 10, (2, 1, 64, 64))
        fast = run_model(model, sem_ids, ex, ex_ids)
        full = model(None, ex, model.encode(ex_ids), label_ids=sem_ids[:, 0], return_mask=False)
    assert fast.warped.shape == (2, 3, 64, 64)
    assert torch.allclose(fast.warped, full.warped, atol=1e-6)
    assert torch.allclose(fast.image, full.image, atol=1e-6)
