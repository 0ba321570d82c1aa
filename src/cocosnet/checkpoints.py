"""Loading and saving weights: the authors' `.pth` files and our native safetensors + JSON config.

Official files are read with `torch.load(weights_only=True, mmap=True)` and assigned into the modules without a
second copy; every key must be used and none may be missing, so a wrong preset fails loudly instead of giving a
silently wrong image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from cocosnet.fileio import atomic_write_bytes
from cocosnet.presets import ModelConfig

NATIVE_WEIGHTS = "model.safetensors"
NATIVE_CONFIG = "config.json"
FORMAT_VERSION = 1
OFFICIAL_HELP = (
    "the authors' checkpoints are linked from the 'Pretrained Models' section of the official CoCosNet README "
    "(github.com/microsoft/CoCosNet); unpack them so the folder holds latest_net_G.pth and latest_net_Corr.pth"
)


def load_torch_state_dict(path: str | Path, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """A plain tensor dict from a `.pth` file, loaded safely (no pickled code) and memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} ({OFFICIAL_HELP})")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # old (non-zip) serialisation cannot be memory-mapped
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors for files holding code, truncated files, ...
        raise ValueError(f"{path}: not a loadable weights-only PyTorch state dict ({exc})") from exc
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict)")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str, assign: bool = True) -> None:
    """load_state_dict(strict=True) with an error that lists what differs and hints at the likely preset option."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [(k, tuple(state[k].shape), tuple(own[k].shape)) for k in own.keys() & state.keys()
                  if state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not fit this model:"]
        if missing:
            lines.append(f"  {len(missing)} missing keys, e.g. {missing[:3]}")
        if unexpected:
            lines.append(f"  {len(unexpected)} unexpected keys, e.g. {unexpected[:3]}")
        for k, got, want in mismatched[:3]:
            lines.append(f"  {k}: checkpoint {list(got)} vs model {list(want)}")
        if any(".layer2." in k or ".layer4." in k for k, *_ in mismatched):
            lines.append("  hint: adaptor kernel differs (released CelebA-HQ/DeepFashion models use adaptor_kernel=4)")
        if any(k.startswith("layer.") or "mlp_shared" in k or k.startswith("fc.") for k, *_ in mismatched):
            lines.append("  hint: semantic channels differ: is this the right preset (label classes, maskmix)?")
        raise ValueError("\n".join(lines))
    state = {k: v.to(own[k].dtype) for k, v in state.items()}
    module.load_state_dict(state, strict=True, assign=assign)


def official_paths(folder: str | Path) -> dict[str, Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"official checkpoint folder not found: {folder} ({OFFICIAL_HELP})")
    out = {}
    for net in ("G", "Corr", "D"):
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


def save_native(model: nn.Module, cfg: ModelConfig, folder: str | Path, extra: dict | None = None,
                dtype: torch.dtype | None = None, state: Mapping[str, torch.Tensor] | None = None) -> Path:
    """`folder/model.safetensors` (+ `config.json`), each written atomically. `dtype=torch.float16` halves it;
    `state` replaces `model.state_dict()`."""
    from safetensors.torch import save

    folder = Path(folder)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in (model.state_dict() if state is None else state).items()}
    atomic_write_bytes(folder / NATIVE_WEIGHTS, save(state, metadata={"format": "cocosnet"}))
    config = {"format": "cocosnet", "version": FORMAT_VERSION, "model": cfg.to_dict(), **(extra or {})}
    atomic_write_bytes(folder / NATIVE_CONFIG, json.dumps(config, indent=2).encode())
    return folder


def read_native_config(folder: str | Path) -> dict:
    folder = Path(folder)
    cfg_path = folder / NATIVE_CONFIG
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{cfg_path} not found: a cocosnet checkpoint folder holds {NATIVE_CONFIG} and "
                                f"{NATIVE_WEIGHTS} (made by save_pretrained, `cocosnet train` or `cocosnet convert`)")
    try:
        config = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{cfg_path}: not valid JSON ({exc})") from exc
    if "model" not in config:
        raise ValueError(f"{cfg_path}: no 'model' section")
    return config


def load_native_state(folder: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    path = Path(folder) / NATIVE_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        return load_file(path)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
