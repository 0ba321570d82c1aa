"""Each official preset builds modules whose state-dict keys and shapes are exactly the official manifests."""

import json

import pytest
import torch

from cocosnet.correspondence import Correspondence
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.generator import Generator
from cocosnet.model import count_parameters
from cocosnet.presets import (
    LossConfig,
    ModelConfig,
    PairSampling,
    canonical_name,
    get_model_config,
    get_preset,
    preset_names,
)

MANIFESTS = [("ade20k", "ade20k"), ("celebahqedge", "celebahq_edge"), ("deepfashion", "deepfashion"),
             ("celebahq", "celebahq_mask")]


def _shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("folder,preset", MANIFESTS)
def test_state_dicts_match_official_manifests(official_dir, folder, preset):
    cfg = get_model_config(preset)
    with torch.device("meta"):
        nets = {"netG": Generator(cfg), "netCorr": Correspondence(cfg), "netD": MultiscaleDiscriminator(cfg)}
    for name, module in nets.items():
        manifest = json.loads((official_dir / f"{folder}_{name}.json").read_text())
        assert _shapes(module) == manifest, f"{preset} {name}"


@pytest.mark.parametrize("folder,preset", MANIFESTS[1:])
def test_train_command_adaptor_kernel(official_dir, folder, preset):
    """The official train command (no --adaptor_kernel 4) gives 3x3 stride-2 adaptor convs."""
    cfg = get_model_config(preset, adaptor_kernel=3)
    with torch.device("meta"):
        corr = Correspondence(cfg)
    manifest = json.loads((official_dir / f"{folder}_netCorr_trainopts.json").read_text())
    assert _shapes(corr) == manifest


def test_parameter_counts_match_the_official_networks():
    # ARCHITECTURE.md: ADE20k netG 96.66 M, netCorr 59.32 M; CelebA-HQ edge netCorr 53.38 M; DeepFashion netG 92.74 M
    with torch.device("meta"):
        ade = get_model_config("ade20k")
        assert round(count_parameters(Generator(ade)) / 1e6, 2) == 96.66
        assert round(count_parameters(Correspondence(ade)) / 1e6, 2) == 59.32
        assert round(count_parameters(Correspondence(get_model_config("celebahq_edge"))) / 1e6, 2) == 53.38
        assert round(count_parameters(Generator(get_model_config("deepfashion"))) / 1e6, 2) == 92.74


def test_overrides_and_json_round_trip():
    cfg = get_model_config("ade20k", image_size=128, ngf=8)
    assert (cfg.image_size, cfg.ngf, cfg.feature_size) == (128, 8, 32)
    assert ModelConfig.from_dict(json.loads(cfg.to_json())) == cfg
    assert get_preset("celebahqedge").model.name == "celebahq_edge"
    assert {"ade20k", "celebahq_edge", "celebahq_mask", "deepfashion", "landscapes", "tiny"} <= set(preset_names())


def test_bad_configs_are_refused():
    with pytest.raises(KeyError, match="unknown preset 'nope'"):
        get_preset("nope")
    with pytest.raises(ValueError, match="multiple of 32"):
        get_model_config("tiny", image_size=100)
    with pytest.raises(ValueError, match="feature_stride"):
        get_model_config("tiny", feature_stride=3)
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"name": "x", "bogus": 1})


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_feature_stride_sets_correlation_resolution(stride):
    cfg = get_model_config("tiny", feature_stride=stride)
    model = Correspondence(cfg).eval()
    sem = torch.zeros(1, 10, 64, 64)
    sem[:, 3] = 1
    with torch.no_grad():
        out = model(sem, torch.rand(1, 3, 64, 64) * 2 - 1, sem)
    assert out.warp_out.shape == (1, 3, 64, 64)
    assert out.warp_out_lowres.shape == (1, 3, 64 // stride, 64 // stride)


def test_warped_mask_and_pair_sampling_as_the_official_presets_have_them():
    """The loss weight alone decides the warped mask (label-map presets); the exemplar probabilities are the pair
    sampling's, not the losses'."""
    with_mask = {name for name in preset_names() if get_preset(name).loss.warp_mask > 0}
    assert with_mask == {"ade20k", "celebahq_mask", "landscapes", "tiny"}
    assert all(get_preset(name).model.label_nc > 0 for name in with_mask)
    assert "real_reference_probability" not in LossConfig.__dataclass_fields__
    assert get_preset("deepfashion").sampling == PairSampling(real_reference_probability=0.0)
    assert get_preset("ade20k").sampling == PairSampling(0.7, 0.2)
    with pytest.raises(ValueError, match=r"hard_reference_probability must lie in \[0, 1\], got 1.5"):
        PairSampling(hard_reference_probability=1.5)


def test_preset_aliases_are_one_table():
    from cocosnet.data import build_dataset

    assert canonical_name("CelebAHQ-Edge") == "celebahq_edge" and canonical_name("ade") == "ade20k"
    assert get_preset("celebahq").model.name == "celebahq_mask" and get_preset("ADE").model.name == "ade20k"
    assert {get_preset(n).dataset for n in preset_names()} <= {"ade20k", "celebahq_edge", "celebahq_mask",
                                                                "deepfashion", "landscapes"}
    with pytest.raises(ValueError, match="needs a root folder"):
        build_dataset("celebahq-mask")  # the data sets read the same aliases
