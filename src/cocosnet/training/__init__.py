"""Training: the Trainer (plain PyTorch, DDP under torchrun, AMP, EMA), checkpoints, data order, logging."""

from cocosnet.training.checkpoint import latest_checkpoint
from cocosnet.training.config import TrainConfig
from cocosnet.training.grad_checkpoint import enable_gradient_checkpointing
from cocosnet.training.trainer import EMA, OFFICIAL_LOSS_NAMES, Trainer, init_weights
from cocosnet.weights import save_native as save_pretrained  # the name this package exported before weights.py

__all__ = [
    "EMA",
    "OFFICIAL_LOSS_NAMES",
    "TrainConfig",
    "Trainer",
    "enable_gradient_checkpointing",
    "init_weights",
    "latest_checkpoint",
    "save_pretrained",
]
