"""Pins the numerical conventions derived from the official code (see ARCHITECTURE.md §9)."""

import math

import pytest
import torch
import torch.nn.functional as F

from cocosnet.correspondence import Correspondence
from cocosnet.nn import SPADE, PositionalNorm2d, feature_normalize
from cocosnet.nn.spectral import fold_spectral_norm_, sn_conv, unfold_state_dict
from cocosnet.presets import get_model_config


def test_positional_norm_uses_unbiased_variance():
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    # mean 2, unbiased variance ((1)^2 + 0 + 1^2) / (3 - 1) = 1
    expected = torch.tensor([-1.0, 0.0, 1.0]) / math.sqrt(1 + 1e-5)
    assert torch.allclose(PositionalNorm2d()(x).flatten(), expected, atol=1e-7)


def test_feature_normalize_adds_machine_epsilon():
    x = torch.tensor([[3.0, 0.0], [4.0, 0.0]]).view(1, 2, 1, 2)
    out = feature_normalize(x)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.6, 0.8]))
    assert torch.equal(out[0, :, 0, 1], torch.zeros(2))  # 0 / (0 + eps), no NaN


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


def test_spectral_norm_eval_uses_stored_u_v_without_power_iteration():
    torch.manual_seed(0)
    conv = sn_conv(2, 3, 1, bias=False)
    w = torch.randn(3, 2, 1, 1)
    u, v = F.normalize(torch.randn(3), dim=0), F.normalize(torch.randn(2), dim=0)
    conv.load_state_dict({"weight_orig": w, "weight_u": u, "weight_v": v})
    conv.eval()
    x = torch.randn(1, 2, 1, 1)
    sigma = torch.dot(u, w.view(3, 2) @ v)
    for _ in range(2):  # twice: eval must not update u, v
        assert torch.allclose(conv(x), F.conv2d(x, w / sigma), atol=1e-6)
    assert torch.equal(conv.weight_u, u)


def test_folding_spectral_norm_gives_the_hooked_output_exactly_and_writes_the_official_keys_back():
    torch.manual_seed(0)
    net = torch.nn.Sequential(sn_conv(4, 6, 3, padding=1), torch.nn.LeakyReLU(0.2), sn_conv(6, 2, 1))
    for _ in range(3):  # converge u, v as training does
        net(torch.randn(2, 4, 8, 8))
    net.eval()
    official = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        hooked = net(x)
        folded = fold_spectral_norm_(net)
        assert sorted(folded) == ["0", "2"] and not net[0]._forward_pre_hooks
        assert torch.equal(net(x), hooked)  # the same division the hook does, done once
    back = unfold_state_dict(net.state_dict(), folded)
    assert back.keys() == official.keys()
    for k in official:
        assert torch.allclose(back[k], official[k], rtol=1e-6, atol=0), k


def test_spade_resizes_conditioning_with_nearest():
    torch.manual_seed(0)
    spade = SPADE(norm_nc=2, cond_nc=1, hidden=1)
    cond = torch.arange(16.0).view(1, 1, 4, 4)
    seen = {}
    spade.mlp_shared.register_forward_hook(lambda m, i, o: seen.setdefault("cond", i[0]))
    spade(torch.randn(1, 2, 2, 2), cond)
    # nearest to 2x2 picks the top-left sample of each 2x2 block: 0, 2, 8, 10
    assert seen["cond"].flatten().tolist() == [0.0, 2.0, 8.0, 10.0]


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


def test_onehot_lookup_equals_convolving_the_one_hot_map():
    from cocosnet.nn.normalization import onehot_conv3x3

    torch.manual_seed(0)
    ids = torch.randint(0, 7, (2, 9, 11))
    weight = torch.randn(5, 7, 3, 3, requires_grad=True)
    onehot = F.one_hot(ids, 7).permute(0, 3, 1, 2).float()
    want = F.conv2d(F.pad(onehot, (1, 1, 1, 1), mode="reflect"), weight)
    got = onehot_conv3x3(ids, weight)
    assert torch.allclose(got, want, atol=1e-5)
    (g1,) = torch.autograd.grad(got.square().sum(), weight)
    (g2,) = torch.autograd.grad(want.square().sum(), weight)
    assert torch.allclose(g1, g2, atol=1e-4)


def test_spade_block_with_class_ids_equals_the_one_hot_path():
    from cocosnet.nn import SPADEResnetBlock

    torch.manual_seed(0)
    block = SPADEResnetBlock(8, 4, cond_nc=3 + 6, hidden=5, onehot_start=3).eval()
    ids = torch.randint(0, 6, (1, 16, 16))
    cond = torch.cat([torch.randn(1, 3, 16, 16), F.one_hot(ids, 6).permute(0, 3, 1, 2).float()], 1)
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x, cond, ids), block(x, cond), atol=1e-5)


def test_generator_takes_the_warped_exemplar_alone_with_class_ids():
    """Inference passes SPADE the warped exemplar only (the one-hot part comes from the ids) and the first layer's
    conditioning at 1/32: the same image as the full conditioning; without ids it is refused."""
    from cocosnet.generator import Generator
    from cocosnet.model import encode_semantic
    from cocosnet.presets import get_model_config

    cfg = get_model_config("tiny")
    gen = Generator(cfg).eval()
    torch.manual_seed(0)
    ids = torch.randint(0, cfg.label_nc, (2, 64, 64))
    warped = torch.rand(2, 3, 64, 64) * 2 - 1
    cond = torch.cat([warped, encode_semantic(ids[:, None], cfg)], 1)
    with torch.inference_mode():
        full = gen(cond, ids)
        small = F.interpolate(cond, size=(2, 2), mode="nearest")
        lean = gen(warped, ids, fc_cond=small)
        assert torch.allclose(lean, full, atol=1e-6)
        with pytest.raises(ValueError, match="needs label_ids"):
            gen(warped, None, fc_cond=small)


def test_freed_tensors_go_back_to_the_system_on_glibc(monkeypatch):
    import platform

    from cocosnet import memory

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    glibc = platform.libc_ver()[0] == "glibc"
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is glibc
    assert memory.set_malloc_mmap_threshold(0) is False  # nothing to set
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")  # the user's own setting wins
    assert memory.set_malloc_mmap_threshold(memory.INFERENCE_MMAP_THRESHOLD) is False


@pytest.mark.parametrize("preset,rows", [("tiny", 16), ("tiny", 21), ("deepfashion", 32)])
def test_generator_full_resolution_stage_in_row_bands_equals_the_whole_image(preset, rows, monkeypatch):
    """Inference runs the last block + conv_img in bands of rows with a halo: the same image as one pass, with
    class ids (one-hot lookups, reflection padding at the image edge) and with dense semantics."""
    from cocosnet.generator import Generator
    from cocosnet.model import encode_semantic
    from cocosnet.presets import get_model_config
    from cocosnet.runtime import RuntimeOptions

    cfg = get_model_config(preset, image_size=128, ngf=2, spade_hidden=4)
    torch.manual_seed(0)
    gen = Generator(cfg, RuntimeOptions(band_rows=rows)).eval()
    whole = Generator(cfg, RuntimeOptions(band_rows=0)).eval()
    whole.load_state_dict(gen.state_dict())
    if cfg.label_nc:
        ids = torch.randint(0, cfg.label_nc, (2, 128, 128))
        semantic = encode_semantic(ids[:, None], cfg)
    else:
        ids, semantic = None, torch.rand(2, cfg.semantic_nc, 128, 128)
    cond = torch.cat([torch.rand(2, 3, 128, 128) * 2 - 1, semantic], 1)
    calls = []
    monkeypatch.setattr(gen, "_last_stage", lambda x, c, i: calls.append(x.shape[-2]) or
                        Generator._last_stage(gen, x, c, i))
    with torch.inference_mode():
        banded, reference = gen(cond, ids), whole(cond, ids)
    assert len(calls) == math.ceil(128 / (rows + rows % 2)) and max(calls) < 128
    assert banded.shape == reference.shape == (2, 3, 128, 128)
    assert torch.allclose(banded, reference, atol=1e-6), (banded - reference).abs().max()
