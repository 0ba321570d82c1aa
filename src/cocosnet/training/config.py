"""Training options (everything that is not a network size or a loss weight)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

AmpMode = Literal["off", "bf16", "fp16"]
Freezable = Literal["correspondence", "generator"]  # the parts `--freeze` can hold fixed while fine-tuning
FREEZABLE: tuple[str, ...] = ("correspondence", "generator")


def _opt(default: Any, help: str) -> Any:
    """A field with its help text: `cocosnet train` makes its flags from these (commands/config_flags.py)."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Optimisation, schedule, precision, logging and checkpointing options.

    Defaults are the official ones: TTUR with Adam betas (0, 0.9), base lr 2e-4 (generator + correspondence
    lr/2 = 1e-4 with eps 1e-3, discriminator 2·lr = 4e-4), constant lr for the first half of the run then linear
    decay to 0, one D step per G step, Xavier-normal init with gain 0.02, no EMA.
    """

    batch_size: int = _opt(1, "per process; the global batch is batch_size x world size")
    max_steps: int | None = _opt(None, "total steps; lr decays linearly after decay_start of them (None: until the "
                                       "time limit, constant lr)")
    time_limit_min: float | None = _opt(None, "stop (and checkpoint) after this many minutes")
    lr: float = _opt(2e-4, "base lr (the official opt.lr): generator+correspondence lr/2, discriminator 2*lr (TTUR)")
    lr_g: float | None = _opt(None, "generator + correspondence lr (None: lr/2)")
    lr_d: float | None = _opt(None, "discriminator lr (None: 2*lr)")
    lr_corr: float | None = _opt(None, "correspondence lr, when it should differ from the generator's (None: lr_g; "
                                       "lower it when the correspondence collapses, docs/training.md)")
    freeze: tuple[Freezable, ...] = _opt((), "hold these parts fixed (no gradient, no optimiser state, eval mode): "
                                             "correspondence and/or generator; repeatable or a comma list; the "
                                             "discriminator always trains")
    beta1: float = _opt(0.0, "Adam beta1")
    beta2: float = _opt(0.9, "Adam beta2")
    eps_g: float = _opt(1e-3, "the official generator Adam eps")
    decay_start: float = _opt(0.5, "fraction of max_steps after which lr decays linearly to 0 (niter / (niter+decay))")
    amp: AmpMode = _opt("off", "autocast precision of the training step")
    channels_last: bool = _opt(False, "NHWC tensors: oneDNN's fast convolution layout on CPU (most with bf16 on "
                                      "AVX-512/AMX CPUs; docs/training.md) and tensor cores' on GPU; the same "
                                      "arithmetic up to float rounding")
    ema_decay: float = _opt(0.0, "keep an EMA of generator + correspondence (e.g. 0.999; 0 = off); the exported "
                                 "model then uses it")
    grad_checkpointing: bool = _opt(False, "recompute blocks, attention, adaptors and the warp in backward")
    malloc_mmap_threshold: int = _opt(0, "CPU: glibc mmap threshold in bytes (0 = glibc's dynamic default); freed "
                                         "activations go back to the system instead of fragmenting the heap: a lower "
                                         "peak RSS, more page faults (cocosnet/memory.py, docs/training.md)")
    trim_host_memory: bool | None = _opt(None, "CPU: malloc_trim before each backward and after each step (None: "
                                               "with grad_checkpointing, where memory is the point; its page faults "
                                               "slow small presets' steps down, so not everywhere; docs/training.md)")
    init_gain: float = _opt(0.02, "xavier_normal_ gain (official init_variance)")
    seed: int = _opt(0, "seed of the weights, the data order and the exemplar choice")
    num_workers: int = _opt(0, "data loader workers")
    log_every: int = _opt(10, "TensorBoard scalars + one-line summary every N steps")
    image_every: int = _opt(200, "TensorBoard image grid every N steps")
    save_every: int = _opt(500, "checkpoint every N steps")
    keep_checkpoints: int = _opt(3, "keep the last K checkpoints")
    progress: bool = _opt(True, "progress bar")
    deterministic: bool = _opt(False, "torch.use_deterministic_algorithms")
    health_every: int = _opt(500, "collapse and health checks on a fixed held-out batch every N steps (0 = off; "
                                  "TensorBoard health/, docs/training.md)")
    health_batch: int = _opt(4, "samples in the fixed held-out batch of the health checks")
    stop_on_collapse: bool = _opt(False, "end the run (checkpoint saved, exit status 3) when a health check finds "
                                         "a collapse")

    def __post_init__(self) -> None:
        if self.amp not in ("off", "bf16", "fp16"):
            raise ValueError(f"amp must be off, bf16 or fp16, got {self.amp!r}")
        if not 0.0 <= self.decay_start <= 1.0:
            raise ValueError(f"decay_start must lie in [0, 1], got {self.decay_start}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        self.freeze = tuple(dict.fromkeys(self.freeze))  # a JSON list back to a tuple, each part once
        unknown = [part for part in self.freeze if part not in FREEZABLE]
        if unknown:
            raise ValueError(f"freeze takes {' and/or '.join(FREEZABLE)}, got {', '.join(map(repr, unknown))}")
        if self.health_every < 0 or self.health_batch < 1:
            raise ValueError(f"health_every must be >= 0 and health_batch >= 1, got {self.health_every} and "
                             f"{self.health_batch}")

    @property
    def g_lr(self) -> float:
        return self.lr_g if self.lr_g is not None else self.lr / 2

    @property
    def corr_lr(self) -> float:
        return self.lr_corr if self.lr_corr is not None else self.g_lr

    @property
    def d_lr(self) -> float:
        return self.lr_d if self.lr_d is not None else self.lr * 2

    def lr_factor(self, step: int) -> float:
        """Multiplier of the initial lr at `step` (0-based): 1 until decay_start·max_steps, then linear to 0.

        The official schedule lowers lr by lr0/niter_decay after every epoch past niter; this is the same line
        sampled per step instead of per epoch.
        """
        if not self.max_steps:
            return 1.0
        start = self.decay_start * self.max_steps
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1.0, self.max_steps - start))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
