"""Named configurations: the official data sets' exact shapes, plus small ones for CPU work and tests.

A preset is a `ModelConfig` (every size the networks need) and a `LossConfig` (the per-data-set loss weights and
exemplar probabilities of the official train options). `get_preset("ade20k", ngf=16)` overrides any field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

WarpMode = Literal["nearest", "bilinear", "patch"]
AttentionImpl = Literal["auto", "dense", "sdpa", "chunked"]

# The interactive painter's outdoor classes (the paper's demo); id 0 is "unlabeled".
LANDSCAPE_CLASSES: tuple[str, ...] = (
    "unlabeled", "road", "rock", "water", "sand", "sea", "sky", "grass", "mountain", "tree",
)
LANDSCAPE_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (128, 64, 128), (120, 110, 100), (60, 120, 200), (230, 210, 150),
    (20, 60, 160), (135, 200, 235), (90, 180, 60), (110, 90, 130), (20, 100, 40),
)


@dataclass(frozen=True)
class ModelConfig:
    """Every size of the correspondence network, the translation generator and the discriminator."""

    name: str = "custom"
    # Semantic input x_A: `label_nc > 0` means integer class ids 0..label_nc-1 one-hot encoded inside the model
    # (ADE20k's 150 classes + don't-care = 151); `label_nc == 0` means dense maps (edges, pose) used as they are.
    semantic_nc: int = 151
    label_nc: int = 151
    dontcare_id: int = -1  # where label value 255 goes (ADE20k: 150); -1 means 255 is an error
    class_names: tuple[str, ...] = ()
    class_colors: tuple[tuple[int, int, int], ...] = ()
    image_size: int = 256

    # Correspondence network: domain adaptors (widths nf, 2nf, 4nf, 8nf, 8nf -> output 4nf), shared blocks.
    adaptor_nf: int = 64
    adaptor_kernel: int = 3  # kernel of the stride-2 adaptor convs (4 in the released CelebA-HQ/DeepFashion models)
    feature_stride: int = 4  # image size / correlation size: 4 -> 64x64 features for 256x256 images; 1, 2 or 4
    corr_blocks: int = 4  # shared residual blocks after the adaptors
    corr_channels: int = 256  # theta / phi projections
    match_kernel: int = 3  # 3x3 unfolded feature vectors
    temperature: float = 0.01
    maskmix: bool = True  # concatenate each side's downsampled label map to its adaptor features
    # upsampling of the low-res warp; "patch": the correspondence moves stride x stride patches of the full-resolution
    # exemplar (DeepFashion; landscapes too, with maskmix)
    warp: WarpMode = "nearest"
    warp_mask: bool = False  # also warp the exemplar's one-hot label (ADE20k's mask loss)
    warp_chunk: int = 4096  # query rows per block in the chunked warp (capped at 16 MB of scores)
    warp_impl: AttentionImpl = "auto"  # auto = chunked (memory-linear); dense = the official matrix; sdpa

    # Translation generator.
    ngf: int = 64
    spade_hidden: int = 128
    use_attention: bool = True  # self-attention before the 128x128 (image/2) block
    attention_impl: AttentionImpl = "auto"
    band_rows: int = 64  # inference: the full-resolution block runs in row bands of this height (0: in one piece)

    # Multi-scale discriminator.
    ndf: int = 64
    num_D: int = 2
    n_layers_D: int = 4
    d_attention: bool = True

    @property
    def feature_size(self) -> int:
        return self.image_size // self.feature_stride

    @property
    def adaptor_out(self) -> int:
        return 4 * self.adaptor_nf

    @property
    def corr_in_channels(self) -> int:
        return self.adaptor_out + (self.semantic_nc if self.maskmix else 0)

    @property
    def generator_cond_nc(self) -> int:
        return 3 + self.semantic_nc

    def __post_init__(self) -> None:
        if self.feature_stride not in (1, 2, 4):
            raise ValueError(f"feature_stride must be 1, 2 or 4, got {self.feature_stride}")
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32 (5 upsamplings), got {self.image_size}")
        if self.label_nc and self.label_nc != self.semantic_nc:
            raise ValueError(f"label_nc ({self.label_nc}) must equal semantic_nc ({self.semantic_nc}) for label maps")
        if self.band_rows < 0:
            raise ValueError(f"band_rows must be >= 0 (0: the last block in one piece), got {self.band_rows}")
        if self.warp not in ("nearest", "bilinear", "patch"):
            raise ValueError(f"warp must be nearest, bilinear or patch, got {self.warp!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        d = dict(d)
        if "class_names" in d:
            d["class_names"] = tuple(d["class_names"])
        if "class_colors" in d:
            d["class_colors"] = tuple(tuple(c) for c in d["class_colors"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and exemplar probabilities, as the official train options resolve them."""

    feat_match: float = 1.0  # lambda_vgg * fm_ratio: 10 * 0.1 (ADE20k) or 10 * 1.0
    perceptual: float = 0.01
    perceptual_layer: str = "r52"  # r52 for ADE20k, r42 otherwise
    contextual: float = 10.0  # lambda_vgg * ctx_w
    gan: float = 10.0
    gan_feat: float = 10.0  # lambda_feat, divided over the num_D discriminators
    domain_align: float = 10.0  # novgg_featpair
    warp_cycle: float = 0.0
    warp_self: float = 0.0
    warp_mask: float = 0.0
    real_reference_probability: float = 0.7
    hard_reference_probability: float = 0.2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Preset:
    model: ModelConfig
    loss: LossConfig = field(default_factory=LossConfig)
    description: str = ""


_PRESETS: dict[str, Preset] = {
    "ade20k": Preset(
        ModelConfig(name="ade20k", semantic_nc=151, label_nc=151, dontcare_id=150, maskmix=True, warp="nearest",
                    warp_mask=True),
        LossConfig(feat_match=1.0, perceptual=0.01, perceptual_layer="r52", warp_mask=100.0),
        "ADE20k mask->image (150 classes + don't-care), the released checkpoint's shapes",
    ),
    "celebahq_edge": Preset(
        ModelConfig(name="celebahq_edge", semantic_nc=15, label_nc=0, maskmix=True, warp="bilinear",
                    adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_cycle=1.0),
        "CelebA-HQ edge->face (15-channel edge/distance maps), the released checkpoint's shapes",
    ),
    "celebahq_mask": Preset(
        ModelConfig(name="celebahq_mask", semantic_nc=19, label_nc=19, maskmix=True, warp="bilinear",
                    warp_mask=True, adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_cycle=0.1, warp_mask=100.0),
        "CelebA-HQ mask->face (19 parts), the released checkpoint's shapes",
    ),
    "deepfashion": Preset(
        ModelConfig(name="deepfashion", semantic_nc=20, label_nc=0, maskmix=False, warp="patch", adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_self=100.0,
                   real_reference_probability=0.0),
        "DeepFashion pose->image (RGB skeleton + 17 limb distance maps), the released checkpoint's shapes",
    ),
    "landscapes": Preset(
        # the 4x4 patch warp at a sharper softmax carries the exemplar's full-resolution texture (bundled model:
        # output SWD 84 -> 51 against the bilinear warp; docs/bundled_model.md)
        ModelConfig(name="landscapes", semantic_nc=10, label_nc=10, class_names=LANDSCAPE_CLASSES,
                    class_colors=LANDSCAPE_COLORS, maskmix=True, warp="patch", temperature=0.003, warp_mask=True,
                    image_size=128, adaptor_nf=16, corr_blocks=2, corr_channels=64, ngf=16, ndf=32,
                    spade_hidden=64),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_mask=100.0),
        "The procedural outdoor scenes of the painter (9 classes + unlabeled), sized for CPU training (128x128)",
    ),
    "tiny": Preset(
        ModelConfig(name="tiny", semantic_nc=10, label_nc=10, class_names=LANDSCAPE_CLASSES,
                    class_colors=LANDSCAPE_COLORS, image_size=64, adaptor_nf=4, corr_blocks=1, corr_channels=16,
                    ngf=2, ndf=8, spade_hidden=8, warp="bilinear", warp_mask=True),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_mask=100.0, warp_cycle=1.0),
        "A few thousand parameters at 64x64, for tests",
    ),
}


def preset_names() -> list[str]:
    return sorted(_PRESETS)


def get_preset(name: str, **overrides: Any) -> Preset:
    """The named preset; keyword overrides replace ModelConfig fields (e.g. `image_size=128, ngf=16`)."""
    key = name.replace("-", "_").lower()
    aliases = {"celebahqedge": "celebahq_edge", "celebahq": "celebahq_mask", "ade": "ade20k"}
    key = aliases.get(key, key)
    if key not in _PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    preset = _PRESETS[key]
    if overrides:
        preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, **overrides))
    return preset


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    return get_preset(name, **overrides).model
