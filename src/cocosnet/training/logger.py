"""Observability on the main process: TensorBoard scalars and image grids, a progress bar with ETA, and a one-line
summary every `log_every` steps. Other processes get a no-op logger."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch


def _fmt_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


class RunLogger:
    def __init__(self, out_dir: str | Path | None, enabled: bool = True, total_steps: int | None = None,
                 start_step: int = 0, progress: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.total = total_steps
        self.start_step = start_step
        self.t0 = time.perf_counter()
        self.writer = None
        self.bar = None
        if not enabled:
            return
        if tensorboard and out_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(log_dir=str(Path(out_dir) / "tensorboard"))
            except ImportError:  # tensorboard is the optional `train` extra
                warnings.warn("tensorboard is not installed (pip install 'cocosnet[train]'); no TensorBoard logs",
                              stacklevel=2)
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                            file=sys.stderr, disable=None)

    def write(self, line: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"{prefix}{k}", v, step)

    def image(self, step: int, tag: str, grid: torch.Tensor) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid, step)

    def advance(self, step: int, postfix: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)

    def summary(self, step: int, losses: dict[str, float], lr: float, step_time: float, images_per_s: float) -> None:
        g = sum(v for k, v in losses.items() if not k.startswith(("_", "d_")))
        d = sum(v for k, v in losses.items() if k.startswith("d_"))
        terms = " ".join(f"{k}={v:.3g}" for k, v in losses.items() if not k.startswith("_"))
        eta = ""
        if self.total:
            done = step - self.start_step
            if done > 0:
                eta = f" | eta {_fmt_duration((time.perf_counter() - self.t0) / done * (self.total - step))}"
        total = f"/{self.total}" if self.total else ""
        self.write(f"step {step}{total} | G {g:.4g} D {d:.4g} | {terms} | lr {lr:.3g} | {step_time:.2f} s/step "
                   f"{images_per_s:.2f} img/s{eta}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
