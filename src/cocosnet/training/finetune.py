"""Fine-tuning: start from the authors' checkpoints (or a native folder) and hold parts of the model fixed.

The authors' folder holds `latest_net_G.pth`, `latest_net_Corr.pth` and, for training runs they released,
`latest_net_D.pth`; each is loaded strictly (every key used, none missing, same shapes) so a wrong preset is named
instead of training on silently wrong weights. Without a discriminator file D starts from the official
initialisation, and the first steps then mostly train D (docs/training.md: "Fine-tuning from the authors'
checkpoints").
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from torch import nn

from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.model import CoCosNet
from cocosnet.weights import load_official, official_paths

FRESH_D_NOTE = ("the discriminator starts fresh (official initialisation): let it catch up before judging the "
                "generator (e.g. --freeze correspondence,generator for a few hundred steps, docs/training.md)")


def load_official_weights(model: CoCosNet, discriminator: MultiscaleDiscriminator, folder: str | Path
                          ) -> list[str]:
    """netG -> model.generator, netCorr -> model.correspondence and, when the folder has it, netD ->
    discriminator, strictly and in place (the modules keep their parameters, so optimisers built on them stay
    valid). Returns one line per file for the run log."""
    paths = official_paths(folder)
    load_official(model.generator, paths["G"], "G", assign=False)
    load_official(model.correspondence, paths["Corr"], "Corr", assign=False)
    notes = [f"--init-official: generator from {paths['G']}", f"--init-official: correspondence from {paths['Corr']}"]
    if "D" in paths:
        load_official(discriminator, paths["D"], "D", assign=False)
        notes.append(f"--init-official: discriminator from {paths['D']}")
    else:
        notes.append(f"--init-official: {Path(folder) / 'latest_net_D.pth'} not found; {FRESH_D_NOTE}")
    return notes


def freeze_parts(model: CoCosNet, parts: Iterable[str]) -> list[nn.Module]:
    """Hold `parts` ("correspondence", "generator") of `model` fixed: no gradients (so no optimiser state either).
    Returns the frozen modules; `hold_frozen_in_eval` keeps them in eval mode, where spectral normalisation reads
    its stored vectors instead of running a power iteration, so a frozen part stays bit-identical."""
    frozen = []
    for part in parts:
        module = getattr(model, part)
        module.requires_grad_(False)
        frozen.append(module)
    return frozen


def hold_frozen_in_eval(frozen: Iterable[nn.Module]) -> None:
    """Call after `model.train()`: the frozen parts back to eval mode."""
    for module in frozen:
        module.eval()


__all__ = ["FRESH_D_NOTE", "freeze_parts", "hold_frozen_in_eval", "load_official_weights"]
