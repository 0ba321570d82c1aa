"""Training checkpoints: the model weights in the native format (`cocosnet.weights`), the discriminator and EMA
weights beside them, and the training state (optimisers, scalers, step, data position, RNG states) via
`torch.save`, readable with `weights_only=True`; the last K are kept.

Layout of a run directory::

    <out>/checkpoints/step_00001000/  model.safetensors  config.json  discriminator.safetensors
                                      [ema.safetensors]  training_state.pt
    <out>/model/                      model.safetensors  config.json   (the latest exported weights, for
                                                                       `Translator.from_pretrained(<out>/model)`)

Every file is written to a temporary name and renamed; a checkpoint directory is assembled under a temporary name
and renamed into place, so a crash never leaves a half-written checkpoint that `latest_checkpoint` would pick.
What a crash does leave (a `.step_*.tmp` folder, or a `.step_*.old` one when a step was being saved again) is
cleaned up by `recover_interrupted_saves` on the next start. A new run never goes into a folder that holds another
one (`check_run_dir`): keep-last-K would otherwise delete the new run's checkpoints in favour of the old run's
higher steps, and a later `--resume` would continue the old run.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cocosnet.fileio import OutputPathError, atomic_write
from cocosnet.weights import WEIGHTS_FILE, save_native, save_tensors

DISCRIMINATOR_FILE = "discriminator.safetensors"
EMA_FILE = "ema.safetensors"
STATE_FILE = "training_state.pt"
_STEP_DIR = re.compile(r"^step_(\d+)$")
_INTERRUPTED_DIR = re.compile(r"^\.(step_\d+)\.(?:.+\.tmp|old)$")  # write_checkpoint's temporary names
RUN_ARTEFACTS = ("checkpoints", "model", "tensorboard")  # what a run writes into its folder


# --- RNG states in a form `torch.load(weights_only=True)` accepts (tensors, lists, numbers) -------------------------

def rng_state() -> dict[str, Any]:
    version, keys, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(keys), gauss],
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, keys, gauss = state["python"]
    random.setstate((version, tuple(keys), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- checkpoint directories -----------------------------------------------------------------------------------------

def checkpoint_dir(out_dir: str | os.PathLike, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step_{step:08d}"


def list_checkpoints(out_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()
             and (p / STATE_FILE).is_file() and (p / WEIGHTS_FILE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(out_dir: str | os.PathLike) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


class CheckpointWriteError(RuntimeError):
    """A checkpoint could not be written (disk full, quota, I/O error); the message says which step failed, why,
    and that the previous checkpoint is still valid (it is never touched before the new one is complete)."""

    def __init__(self, out_dir: str | os.PathLike, step: int, cause: OSError | OutputPathError):
        self.step = step
        root = cause.__cause__ if isinstance(cause.__cause__, OSError) else cause  # atomic_write wraps the OSError
        reason = getattr(root, "strerror", None) or str(root)
        previous = list_checkpoints(out_dir)
        kept = (f"the previous checkpoint {previous[-1]} is intact and valid (resume from it with --resume)"
                if previous else "no earlier checkpoint exists in this run")
        super().__init__(f"could not write the checkpoint of step {step} in {Path(out_dir) / 'checkpoints'}: "
                         f"{reason}; the partial write was removed and {kept}")


def write_checkpoint(
    out_dir: str | os.PathLike,
    step: int,
    model_state: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    training_state: dict[str, Any],
    others: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    keep: int = 3,
) -> Path:
    """Assemble a checkpoint under a temporary name, rename it into place, then keep only the last `keep`.

    model_state + config: the native folder (`cocosnet.weights.save_native`); others: more weight files beside
    it, e.g. {DISCRIMINATOR_FILE: D's state dict, EMA_FILE: ...}.
    """
    final = checkpoint_dir(out_dir, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    try:
        save_native(tmp, model_state, config)
        for name, state in (others or {}).items():
            save_tensors(state, tmp / name)
        atomic_write(tmp / STATE_FILE, lambda f: torch.save(training_state, f))
        if final.exists():  # the same step saved again (e.g. a signal right after a periodic save)
            old = final.with_name(f".{final.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except (OSError, OutputPathError) as exc:  # e.g. disk full (ENOSPC): nothing was renamed over, so the last
        # checkpoint is whole
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointWriteError(out_dir, step, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep > 0:
        for old in list_checkpoints(out_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


class RunDirError(ValueError):
    """A run folder that a new run may not use; the message names what is there and the flags that decide."""


def _listing(out: Path, names: list[str], limit: int = 6) -> str:
    shown = [name + ("/" if (out / name).is_dir() else "") for name in names[:limit]]
    more = f", and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(shown) + more


def describe_run_dir(out_dir: str | os.PathLike) -> str | None:
    """What is in `out_dir` ("runs/x holds a run at step 1200 (checkpoints/step_00001200, model/)"), or None when
    it is missing or empty."""
    out = Path(out_dir)
    if not out.is_dir():
        return None
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return None
    latest = latest_checkpoint(out)
    if latest is None:
        return f"{out} is not empty ({_listing(out, names)})"
    step = int(_STEP_DIR.match(latest.name).group(1))
    shown = [f"checkpoints/{latest.name}"] + (["model/"] if (out / "model").is_dir() else [])
    return f"{out} holds a run at step {step} ({', '.join(shown)})"


def check_run_dir(out_dir: str | os.PathLike, resume: bool, overwrite: bool) -> None:
    """Refuse (`RunDirError`) a new run into a folder that is not empty, unless it is resumed or overwritten."""
    if resume and overwrite:
        raise RunDirError("pass --resume (continue the run in the folder) or --overwrite (replace it), not both")
    found = None if resume or overwrite else describe_run_dir(out_dir)
    if found is not None:
        raise RunDirError(f"{found}: pass --resume to continue it or --overwrite to replace it")


def clear_run(out_dir: str | os.PathLike) -> list[Path]:
    """Remove what an earlier run wrote into `out_dir` (its checkpoints, model/ and TensorBoard logs; nothing
    else); returns the paths removed."""
    removed = []
    for name in RUN_ARTEFACTS:
        path = Path(out_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(path)
    return removed


def recover_interrupted_saves(out_dir: str | os.PathLike) -> list[str]:
    """Clean what a kill during `write_checkpoint` left: a `.step_*.tmp` folder (an unfinished checkpoint) is
    removed; a `.step_*.old` folder (the previous save of a step being saved again) is put back when the step's
    checkpoint is missing, else removed. Returns one line per folder, saying what was done."""
    root = Path(out_dir) / "checkpoints"
    if not root.is_dir():
        return []
    notes = []
    for path in sorted(root.iterdir()):
        m = _INTERRUPTED_DIR.match(path.name)
        if m is None or not path.is_dir() or path.is_symlink():
            continue
        final = root / m.group(1)
        if path.name.endswith(".old") and not final.exists():
            os.replace(path, final)
            notes.append(f"restored {final} from {path.name}, left by a save that was interrupted")
        else:
            shutil.rmtree(path)
            notes.append(f"removed {path}, left by a checkpoint save that was interrupted")
    return notes


def read_training_state(ckpt: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(ckpt) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no training state in {ckpt} (expected {STATE_FILE})")
    return torch.load(path, map_location=map_location, weights_only=True)

