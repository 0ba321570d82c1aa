"""Named configurations: the official data sets' exact shapes, plus small ones for CPU work and tests.

A preset is a `ModelConfig` (what the weights are: every size the networks need, the label set), a `LossConfig`
(the per-data-set loss weights of the official train options) and a `PairSampling` (how training picks exemplars).
How to run them (device, chunking, banding) is `cocosnet.runtime.RuntimeOptions`, apart.
`get_preset("ade20k", ngf=16)` overrides any ModelConfig field.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

WarpMode = Literal["nearest", "bilinear", "patch"]

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
    """What the weights are: every size of the correspondence network, the translation generator and the
    discriminator, the label set, and the correspondence's temperature and warp mode (its arithmetic)."""

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

    # Translation generator.
    ngf: int = 64
    spade_hidden: int = 128
    use_attention: bool = True  # self-attention before the 128x128 (image/2) block

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

    @property
    def needs_exemplar_label(self) -> bool:
        """Inference needs the exemplar's label map: the correspondence concatenates both label maps (maskmix)."""
        return self.maskmix

    def __post_init__(self) -> None:
        if self.feature_stride not in (1, 2, 4):
            raise ValueError(f"feature_stride must be 1, 2 or 4, got {self.feature_stride}")
        if self.image_size % 32:
            raise ValueError(f"image_size must be a multiple of 32 (5 upsamplings), got {self.image_size}")
        if self.label_nc and self.label_nc != self.semantic_nc:
            raise ValueError(f"label_nc ({self.label_nc}) must equal semantic_nc ({self.semantic_nc}) for label maps")
        if self.warp not in ("nearest", "bilinear", "patch"):
            raise ValueError(f"warp must be nearest, bilinear or patch, got {self.warp!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """From `to_dict` / a config.json's "model" section; the fields older versions kept here are dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k not in MOVED_MODEL_FIELDS}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelConfig fields: {sorted(unknown)}")
        if "class_names" in d:
            d["class_names"] = tuple(d["class_names"])
        if "class_colors" in d:
            d["class_colors"] = tuple(tuple(c) for c in d["class_colors"])
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


# Fields older versions kept in ModelConfig (and wrote into config.json) -> where they live now. None changes a
# weight: the chunking and banding are run options, and the warped mask is computed when its loss weight is > 0.
MOVED_MODEL_FIELDS: dict[str, str] = {
    "warp_impl": "RuntimeOptions.warp_impl",
    "warp_chunk": "RuntimeOptions.warp_chunk (and attention_chunk)",
    "attention_impl": "RuntimeOptions.attention_impl",
    "band_rows": "RuntimeOptions.band_rows",
    "warp_mask": "LossConfig.warp_mask (the loss weight alone: 0 turns the warped mask off)",
}


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (and the perceptual loss's layer), as the official train options resolve them.

    `warp_mask` > 0 also warps the exemplar's one-hot label by the same softmax (label-map presets only)."""

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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class PairSampling:
    """How training picks the exemplar of each sample (official): a draw r ~ U(0,1) takes the hardest retrieved
    exemplar when r < `hard_reference_probability`, else the easiest when r < `real_reference_probability`, else a
    pseudo exemplar (the augmented ground truth). The names are the data sets' keyword arguments."""

    real_reference_probability: float = 0.7
    hard_reference_probability: float = 0.2

    def __post_init__(self) -> None:
        for name, p in self.to_dict().items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {p}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Preset:
    model: ModelConfig
    loss: LossConfig = field(default_factory=LossConfig)
    description: str = ""
    sampling: PairSampling = field(default_factory=PairSampling)
    dataset: str = ""  # the data set type it trains on by default (`cocosnet train --dataset`); "": none


_PRESETS: dict[str, Preset] = {
    "ade20k": Preset(
        ModelConfig(name="ade20k", semantic_nc=151, label_nc=151, dontcare_id=150, maskmix=True, warp="nearest"),
        LossConfig(feat_match=1.0, perceptual=0.01, perceptual_layer="r52", warp_mask=100.0),
        "ADE20k mask->image (150 classes + don't-care), the released checkpoint's shapes",
        dataset="ade20k",
    ),
    "celebahq_edge": Preset(
        ModelConfig(name="celebahq_edge", semantic_nc=15, label_nc=0, maskmix=True, warp="bilinear",
                    adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_cycle=1.0),
        "CelebA-HQ edge->face (15-channel edge/distance maps), the released checkpoint's shapes",
        dataset="celebahq_edge",
    ),
    "celebahq_mask": Preset(
        ModelConfig(name="celebahq_mask", semantic_nc=19, label_nc=19, maskmix=True, warp="bilinear",
                    adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_cycle=0.1, warp_mask=100.0),
        "CelebA-HQ mask->face (19 parts), the released checkpoint's shapes",
        dataset="celebahq_mask",
    ),
    "deepfashion": Preset(
        ModelConfig(name="deepfashion", semantic_nc=20, label_nc=0, maskmix=False, warp="patch", adaptor_kernel=4),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_self=100.0),
        "DeepFashion pose->image (RGB skeleton + 17 limb distance maps), the released checkpoint's shapes",
        sampling=PairSampling(real_reference_probability=0.0),
        dataset="deepfashion",
    ),
    "landscapes": Preset(
        # the 4x4 patch warp at a sharper softmax carries the exemplar's full-resolution texture (bundled model:
        # output SWD 84 -> 51 against the bilinear warp; docs/bundled_model.md)
        ModelConfig(name="landscapes", semantic_nc=10, label_nc=10, class_names=LANDSCAPE_CLASSES,
                    class_colors=LANDSCAPE_COLORS, maskmix=True, warp="patch", temperature=0.003,
                    image_size=128, adaptor_nf=16, corr_blocks=2, corr_channels=64, ngf=16, ndf=32,
                    spade_hidden=64),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_mask=100.0),
        "The procedural outdoor scenes of the painter (9 classes + unlabeled), sized for CPU training (128x128)",
        dataset="landscapes",
    ),
    "tiny": Preset(
        ModelConfig(name="tiny", semantic_nc=10, label_nc=10, class_names=LANDSCAPE_CLASSES,
                    class_colors=LANDSCAPE_COLORS, image_size=64, adaptor_nf=4, corr_blocks=1, corr_channels=16,
                    ngf=2, ndf=8, spade_hidden=8, warp="bilinear"),
        LossConfig(feat_match=10.0, perceptual=0.001, perceptual_layer="r42", warp_mask=100.0, warp_cycle=1.0),
        "A few thousand parameters at 64x64, for tests",
        dataset="landscapes",
    ),
}


# The largest picture any input path decodes (the CLI's files, the API's uploads), in pixels: read from the
# header and refused before a pixel is decoded, so a decompression bomb costs nothing.
MAX_INPUT_PIXELS = 4096 * 4096
# The picture formats both input paths accept (PIL's format names).
INPUT_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")


def preset_names() -> list[str]:
    return sorted(_PRESETS)


# Other spellings of the presets' (and their data sets') names: the official folder names among them.
PRESET_ALIASES: dict[str, str] = {"celebahqedge": "celebahq_edge", "celebahq": "celebahq_mask", "ade": "ade20k"}


def canonical_name(name: str) -> str:
    """A preset or data set name as the tables spell it: lower case, '_' for '-', aliases resolved."""
    key = name.replace("-", "_").lower()
    return PRESET_ALIASES.get(key, key)


def get_preset(name: str, **overrides: Any) -> Preset:
    """The named preset; keyword overrides replace ModelConfig fields (e.g. `image_size=128, ngf=16`)."""
    key = canonical_name(name)
    if key not in _PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of {', '.join(preset_names())}")
    preset = _PRESETS[key]
    if overrides:
        preset = dataclasses.replace(preset, model=replace_model_fields(preset.model, overrides))
    return preset


def replace_model_fields(cfg: ModelConfig, overrides: dict[str, Any]) -> ModelConfig:
    """`cfg` with `overrides` applied; a field that moved out of ModelConfig is named with its new home."""
    moved = sorted(set(overrides) & set(MOVED_MODEL_FIELDS))
    if moved:
        raise ValueError("; ".join(f"{k} is no longer a ModelConfig field: use {MOVED_MODEL_FIELDS[k]}"
                                   for k in moved))
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown ModelConfig fields: {unknown}")
    return dataclasses.replace(cfg, **overrides)


def get_model_config(name: str, **overrides: Any) -> ModelConfig:
    return get_preset(name, **overrides).model
