"""CoCosNet: the semantic encoding's checks, the model's inputs, and the same translation in both modes."""

import pytest
import torch

from cocosnet.model import CoCosNet, encode_semantic
from cocosnet.presets import get_model_config, get_preset

from .helpers.grad_modes import assert_same_in_both_modes

# Tiny widths of the official presets: label maps + nearest warp + warped mask (ADE20k), edge maps + bilinear warp
# (CelebA-HQ), pose maps + patch warp (DeepFashion).
TINY = dict(image_size=64, adaptor_nf=4, ngf=2, corr_channels=16, spade_hidden=8, corr_blocks=1)


def test_encode_semantic_one_hot_encodes_class_ids_and_names_what_is_wrong():
    cfg = get_model_config("tiny")
    ids = torch.tensor([[0, 3], [9, 3]]).view(1, 1, 2, 2)
    onehot = encode_semantic(ids, cfg)
    assert onehot.shape == (1, 10, 2, 2) and torch.equal(onehot.argmax(1), ids[:, 0])
    assert torch.equal(onehot.sum(1), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match=r"must lie in 0\.\.9 .* got 1\.\.10"):
        encode_semantic(ids + 1, cfg)
    with pytest.raises(ValueError, match="fractional"):
        encode_semantic(ids.float() + 0.5, cfg)
    with pytest.raises(ValueError, match=r"takes a 20-channel semantic map \[B,20,H,W\], got \(1, 3, 2, 2\)"):
        encode_semantic(torch.zeros(1, 3, 2, 2), get_model_config("deepfashion"))


def test_inputs_must_agree_in_size_and_come_with_the_semantics():
    model = CoCosNet(get_model_config("tiny")).eval()
    sem, ex = model.encode(torch.zeros(1, 1, 64, 64, dtype=torch.long)), torch.zeros(1, 3, 64, 64)
    with torch.no_grad():
        with pytest.raises(ValueError, match="semantic map is"):
            model(sem[..., :32, :32], ex, sem)
        with pytest.raises(ValueError, match="give the encoded semantic map, or label_ids"):
            model(None, ex, sem)


@pytest.mark.parametrize("preset", ["ade20k", "celebahq_edge", "deepfashion"])
def test_translation_is_the_same_in_both_modes(preset):
    """What training runs (the encoded map, the chunked warp; the warped mask where the preset's loss uses it) and,
    for label maps, what inference runs (class ids: one-hot lookups and the lean conditioning), with and without a
    graph: the same image, warp and mask bit for bit."""
    cfg = get_model_config(preset, **TINY)
    want_mask = get_preset(preset).loss.warp_mask > 0  # the preset's loss decides whether the mask is warped
    torch.manual_seed(0)
    model = CoCosNet(cfg).eval()
    g = torch.Generator().manual_seed(1)
    if cfg.label_nc:
        ids = torch.randint(0, cfg.label_nc, (2, 1, 64, 64), generator=g)
        sem, ex_sem = model.encode(ids), model.encode(torch.randint(0, cfg.label_nc, (2, 1, 64, 64), generator=g))
    else:
        ids, sem, ex_sem = None, *torch.rand(2, 2, cfg.semantic_nc, 64, 64, generator=g)
    ex = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    out = assert_same_in_both_modes(lambda s, e, es: model(s, e, es, return_mask=want_mask), sem, ex, ex_sem)
    assert out["/image"].shape == out["/warped"].shape == (2, 3, 64, 64)
    assert ("/correspondence/warp_mask" in out) == want_mask
    if ids is not None:
        lean = assert_same_in_both_modes(lambda e, es: model(None, e, es, label_ids=ids[:, 0]), ex, ex_sem)
        assert lean.keys() == out.keys()
