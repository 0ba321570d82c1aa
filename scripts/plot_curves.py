"""Training curves of a `cocosnet train` run as one PNG, read from its TensorBoard event files.

    python scripts/plot_curves.py runs/landscapes docs/results/landscapes_model/curves.png

A resumed run writes one event file per process start; steps are merged (the later file wins on a repeated step).
"""

from __future__ import annotations

import argparse
from pathlib import Path

LOSS_PANELS = {
    "generator terms": ["feat_match", "perceptual", "contextual", "gan_feat", "warp_mask"],
    "adversarial": ["gan", "d_real", "d_fake"],
    "domain alignment": ["domain_align"],
}


def read_scalars(run: Path) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted((run / "tensorboard").glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise FileNotFoundError(f"no TensorBoard event files under {run / 'tensorboard'}")
    series: dict[str, dict[int, float]] = {}
    for f in files:
        acc = EventAccumulator(str(f), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            series.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    return series


def smooth(values: list[float], weight: float = 0.6) -> list[float]:
    out, last = [], values[0] if values else 0.0
    for v in values:
        last = weight * last + (1 - weight) * v
        out.append(last)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the --out folder of `cocosnet train`")
    ap.add_argument("out", type=Path, help="PNG to write")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = read_scalars(args.run)
    fig, axes = plt.subplots(1, len(LOSS_PANELS), figsize=(6 * len(LOSS_PANELS), 4.5))
    for ax, (title, names) in zip(axes, LOSS_PANELS.items(), strict=True):
        for name in names:
            tag = next((t for t in series if t.split("/")[-1] == name), None)
            if tag is None:
                continue
            steps = sorted(series[tag])
            ax.plot(steps, smooth([series[tag][s] for s in steps]), label=name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    fig.suptitle(f"{args.run} (EMA-smoothed, 0.6)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out} ({len(series)} scalar series)")


if __name__ == "__main__":
    main()
