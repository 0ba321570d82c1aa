"""Correspondence: match vectors, the warp worked by hand, memory-efficient = dense, and both modes equal."""

import pytest
import torch
import torch.nn.functional as F

from cocosnet.correspondence import Correspondence
from cocosnet.nn import softmax_attention
from cocosnet.nn.patch_match import patch_cosine_error_bound
from cocosnet.presets import get_model_config
from cocosnet.runtime import RuntimeOptions

from .helpers.grad_modes import assert_same_in_both_modes


def _onehot(n: int, classes: int = 10, size: int = 64, seed: int = 0) -> torch.Tensor:
    ids = torch.randint(0, classes, (n, 1, size, size), generator=torch.Generator().manual_seed(seed))
    return torch.zeros(n, classes, size, size).scatter_(1, ids, 1.0)


def test_match_vectors_zero_padded_3x3_and_centred_over_channels():
    corr = Correspondence(get_model_config("tiny"))
    feat = torch.ones(1, 1, 3, 3)
    v = corr._match_vectors(feat)  # [1, 9 positions, 9 dims]
    # corner (0,0): the 3x3 window holds 4 ones (inside) and 5 zeros (padding)
    window = torch.tensor([0, 0, 0, 0, 1, 1, 0, 1, 1.0])
    centred = window - 4 / 9
    assert torch.allclose(v[0, 0], centred / centred.norm(), atol=1e-6)
    # centre (1,1): all nine ones -> centred to zero -> stays zero (no NaN)
    assert torch.equal(v[0, 4], torch.zeros(9))


def test_match_vectors_are_the_same_in_both_modes():
    torch.manual_seed(0)
    corr = Correspondence(get_model_config("tiny"))
    assert_same_in_both_modes(corr._match_vectors, torch.randn(2, 16, 9, 7))


@pytest.mark.parametrize("warp", ["nearest", "patch"])
def test_a_hard_correspondence_moves_each_exemplar_position_to_its_match(warp):
    """Hand-made features: query position i carries the one-hot code e_i, exemplar position j the code of its
    mirror image across the vertical axis. With 1x1 match vectors, centred e_i have cosine 1 with themselves and
    -1/255 with any other, so at temperature 1e-3 the softmax is exactly a permutation: the warp is the pooled
    exemplar (or its 4x4 patches, moved whole and not mirrored inside) mirrored, its label map likewise, and the
    cycle warp back is the exemplar itself."""
    cfg = get_model_config("tiny", match_kernel=1, temperature=1e-3, warp=warp)
    corr = Correspondence(cfg)
    fh = fw = cfg.feature_size  # 16
    theta = torch.eye(fh * fw).view(1, fh * fw, fh, fw)
    phi = theta.flip(-1)
    torch.manual_seed(0)
    exemplar = torch.rand(1, 3, 64, 64) * 2 - 1
    label = _onehot(1)
    out = corr.correlate_and_warp(theta, phi, exemplar, label, return_mask=True, return_cycle=True, return_corr=True)
    assert torch.equal(out.corr[0], torch.eye(fh * fw).view(fh, fw, fh, fw).flip(-1).reshape(fh * fw, fh * fw))
    if warp == "patch":
        patches = exemplar.view(1, 3, fh, 4, fw, 4)
        assert torch.equal(out.warp_out, patches.flip(4).reshape(1, 3, 64, 64))
        assert out.warp_out_lowres is None
        assert torch.equal(out.warp_cycle, exemplar)
    else:
        pooled = F.avg_pool2d(exemplar, 4)
        assert torch.equal(out.warp_out_lowres, pooled.flip(-1))
        assert torch.equal(out.warp_out, F.interpolate(pooled.flip(-1), scale_factor=4, mode="nearest"))
        assert torch.equal(out.warp_cycle, pooled)
    assert torch.equal(out.warp_mask, F.interpolate(label, size=(fh, fw), mode="nearest").flip(-1))


def test_maskmix_label_downsampling_is_nearest():
    cfg = get_model_config("tiny")
    corr = Correspondence(cfg).eval()
    seen = []
    corr.layer.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    sem = torch.zeros(1, 10, 64, 64)
    sem[0, 1, ::4, ::4] = 1  # class 1 only on the top-left pixel of each 4x4 block
    with torch.no_grad():
        corr(sem, torch.zeros(1, 3, 64, 64), sem)
    label_part = seen[0][:, cfg.adaptor_out:]
    assert torch.equal(label_part[0, 1], torch.ones(16, 16))


def test_output_shapes_and_the_exemplar_label_it_requires():
    cfg = get_model_config("tiny")  # maskmix: the warped mask is returned with the exemplar label
    corr = Correspondence(cfg).eval()
    sem, ex = _onehot(2), torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = corr(sem, ex, sem, return_intermediates=True, return_cycle=True, return_corr=True)
        with pytest.raises(ValueError, match="needs the exemplar's semantic map"):
            corr(sem, ex)
    assert out.warp_out.shape == (2, 3, 64, 64) and out.warp_out_lowres.shape == (2, 3, 16, 16)
    assert out.warp_mask.shape == (2, 10, 16, 16) and out.warp_cycle.shape == (2, 3, 16, 16)
    assert out.corr.shape == (2, 256, 256)
    torch.testing.assert_close(out.corr.sum(-1), torch.ones(2, 256))  # a softmax over the exemplar's positions
    assert out.adaptive_feature_seg.shape == out.adaptive_feature_img.shape == (2, cfg.adaptor_out, 16, 16)
    assert out.theta.shape == out.phi.shape == (2, cfg.corr_channels, 16, 16)


@pytest.mark.parametrize("warp", ["nearest", "bilinear", "patch"])
@pytest.mark.parametrize("dense", [False, True])
def test_correspondence_is_the_same_in_both_modes(warp, dense):
    """The chunked warp (with the class-id lookup of F_A->S), and the dense matrix with the cycle warp and the
    warped mask that training asks for."""
    torch.manual_seed(0)
    corr = Correspondence(get_model_config("tiny", warp=warp), RuntimeOptions(warp_chunk=100)).eval()
    sem, ex = _onehot(2, seed=1), torch.rand(2, 3, 64, 64) * 2 - 1
    ids = sem.argmax(1)
    if dense:
        out = assert_same_in_both_modes(
            lambda s, e, es: corr(s, e, es, return_mask=True, return_cycle=True, return_corr=True,
                                  return_intermediates=True), sem, ex, _onehot(2, seed=2))
        assert {"/warp_mask", "/warp_cycle", "/corr", "/theta"} <= set(out)
    else:
        assert_same_in_both_modes(lambda s, e, es: corr(s, e, es, label_ids=ids), sem, ex, _onehot(2, seed=2))


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
        want = dense(sem, ex, sem, return_mask=True, return_intermediates=True)
        # auto sums the patch products from the 1x1 ones (cocosnet.nn.patch_match), which round differently from
        # the unfolded vectors: its cosines err by `patch_cosine_error_bound`, the dense ones by (D + 4)·u (a D-term
        # dot product of unit vectors, their normalisation), and a logit error δ moves a softmax-weighted mean of
        # values in [-1, 1] (exemplar colours, one-hot labels) by at most 2·max|δ| (first order); the weighted sums
        # of M values round by M·u each
        u = torch.finfo(torch.float32).eps / 2
        d, m = cfg.corr_channels * cfg.match_kernel**2, cfg.feature_size**2
        cosine = patch_cosine_error_bound(want.theta, want.phi, cfg.match_kernel).max().item() + (d + 4) * u
        patch_atol = 2 * cosine / cfg.temperature + 2 * m * u
        for impl in ("auto", "chunked", "sdpa"):
            eff = Correspondence(cfg, RuntimeOptions(warp_impl=impl, warp_chunk=100)).eval()
            eff.load_state_dict(dense.state_dict())
            got = eff(sem, ex, sem, return_mask=True)
            atol = patch_atol if impl == "auto" else 1e-5
            assert torch.allclose(got.warp_out, want.warp_out, atol=atol), impl
            assert torch.allclose(got.warp_mask, want.warp_mask, atol=atol), impl


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


def test_the_chunked_warp_makes_the_query_match_vectors_one_band_of_feature_rows_at_a_time(monkeypatch):
    """x_A's match vectors come from bands of the zero-padded theta (6 feature rows = 96 positions <= the
    100-row block here), the exemplar's from the whole map once; the warp is the one from the whole set of
    vectors. Each vector is centred and normalised over its own 3x3xC column, so a band gives the same numbers,
    to the float32 rounding of those per-column sums (unit vectors: ~1e-7, bounded at 1e-6); the warp keeps the
    chunked-vs-dense 1e-5 (a 1e-7 cosine is 1e-5 in the logits at a temperature of 0.01)."""
    torch.manual_seed(0)
    cfg = get_model_config("tiny")
    corr = Correspondence(cfg, RuntimeOptions(warp_impl="chunked", warp_chunk=100)).eval()
    theta, phi = torch.randn(2, cfg.corr_channels, 16, 16), torch.randn(2, cfg.corr_channels, 16, 16)
    ex = torch.rand(2, 3, 64, 64) * 2 - 1
    seen, real = [], Correspondence._match_vectors
    monkeypatch.setattr(corr, "_match_vectors", lambda f, padded=False: seen.append((tuple(f.shape[-2:]), padded))
                        or real(corr, f, padded))
    with torch.inference_mode():
        out = corr.correlate_and_warp(theta, phi, ex, None, False, False, False)
        q, k = real(corr, theta), real(corr, phi)
        v = F.avg_pool2d(ex, 4).flatten(2).transpose(1, 2)
        want = softmax_attention(q, k, v, 1 / cfg.temperature, "chunked", 100)
    assert seen == [((16, 16), False), ((8, 18), True), ((8, 18), True), ((6, 18), True)]  # phi, then 6+6+4 rows
    torch.testing.assert_close(out.warp_out_lowres, want.transpose(1, 2).reshape(2, 3, 16, 16), rtol=0, atol=1e-5)
    bands = torch.cat([real(corr, F.pad(theta, (1, 1, 1, 1))[..., r : r + 8, :], True) for r in (0, 6)]
                      + [real(corr, F.pad(theta, (1, 1, 1, 1))[..., 12:18, :], True)], 1)
    torch.testing.assert_close(bands, q, rtol=0, atol=1e-6)


@pytest.mark.parametrize("training", [False, True])
def test_label_adaptor_first_convolution_looks_the_ids_up(training, monkeypatch):
    """Given class ids alone, F_A->S's first convolution is nine table lookups per position: no one-hot map is
    made, and it equals the convolution of the one-hot map up to the order of its sums. Both add the same nine
    non-zero products (the rest are exact zeros), so each is within 8u·Σ|products| of the exact sum (u = 2^-24)
    and the two within twice that. In training the spectral norm's power iteration runs once, as in a forward."""
    import copy

    import cocosnet.correspondence as correspondence
    from cocosnet.label_resize import one_hot_map
    from cocosnet.nn.normalization import onehot_conv3x3

    torch.manual_seed(0)
    cfg = get_model_config("tiny")
    looked_up = Correspondence(cfg).train(training).adaptive_model_seg
    convolved = copy.deepcopy(looked_up)
    ids = torch.randint(0, cfg.semantic_nc, (2, 20, 24))
    monkeypatch.setattr(correspondence, "one_hot_map", lambda *a: pytest.fail("a one-hot map was made"))
    got = looked_up._first_conv_of_ids(ids)
    conv = convolved.layer1[0]
    want = conv(one_hot_map(ids, cfg.semantic_nc))
    assert torch.equal(looked_up.layer1[0].weight_u, conv.weight_u)  # one power iteration each, or none
    magnitude = onehot_conv3x3(ids, conv.weight.detach().double().abs(), "zeros")
    assert ((got - want).abs() <= 2 * 8 * 2.0**-24 * magnitude).all()
    with torch.inference_mode():  # the adaptor's forward takes this path for x=None
        out = looked_up(None, ids)
    assert out.shape == (2, 4 * cfg.adaptor_nf, 20 // cfg.feature_stride, 24 // cfg.feature_stride)
