"""Two gloo processes (DDP) on two halves of a batch take the same steps as one process on the whole batch.

Run in float64: in float32 the comparison is dominated by rounding noise that Adam (betas (0, 0.9)) turns into
±lr steps wherever a gradient is zero in exact arithmetic (a conv bias before InstanceNorm, D's last bias at
init) or ill-conditioned (contextual max over near-ties); in float64 the two runs agree to ~1e-13, which shows the
distributed step itself (gradient averaging, global pseudo-pair / warped-label normalisers, spectral-norm
vectors) is exact.
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as tdist
import torch.multiprocessing as mp

from cocosnet.training import TrainConfig, Trainer
from cocosnet.vgg import load_vgg19

from .conftest import make_batch, tiny_preset

# rank 0 holds one pseudo pair, rank 1 two: local normalisation would weight them differently than the global one
SELF_REF = [1.0, 0.0, 1.0, 1.0]
WORLD = 2


def _run(world: int, rank: int) -> dict[str, torch.Tensor]:
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(1234)
        vgg = load_vgg19("random")
        preset = tiny_preset("tiny")
        n = 4 // world
        trainer = Trainer(preset, TrainConfig(batch_size=n), vgg)
        for seed in (21, 22):
            batch = make_batch(preset.model, 4, seed=seed, self_ref=SELF_REF)
            trainer.train_step({k: v[n * rank: n * rank + n] for k, v in batch.items()})
        assert trainer.skipped_steps == 0
        return {**{f"model.{k}": v for k, v in trainer.model.state_dict().items()},
                **{f"d.{k}": v for k, v in trainer.discriminator.state_dict().items()}}
    finally:
        torch.set_default_dtype(torch.float32)


def _worker(rank: int, init_file: str, out_file: str) -> None:
    torch.set_num_threads(1)
    tdist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        state = _run(WORLD, rank)
        if rank == 0:
            torch.save(state, out_file)
        # every process ends with the same weights and spectral-norm vectors
        flat = torch.cat([v.reshape(-1) for v in state.values()])
        gathered = [torch.zeros_like(flat) for _ in range(WORLD)]
        tdist.all_gather(gathered, flat)
        assert torch.equal(gathered[0], gathered[1])
        tdist.barrier()  # tearing gloo down while the peer is still inside a collective aborts it
    finally:
        tdist.destroy_process_group()
    # Every check passed. Leave without the interpreter's teardown: gloo's static objects occasionally abort there
    # ("terminate called without an active exception", ~1 run in 5 on this machine) after all work is done.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def test_two_process_ddp_equals_one_process_on_the_combined_batch(tmp_path):
    out_file = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(out_file)), nprocs=WORLD, join=True)
    ddp = torch.load(out_file, weights_only=True)
    single = _run(1, 0)
    assert ddp.keys() == single.keys()
    for k, v in single.items():
        assert v.dtype == torch.float64
        torch.testing.assert_close(ddp[k], v, rtol=1e-9, atol=1e-10, msg=lambda m, k=k: f"{k}: {m}")
    torch.manual_seed(1234)
    init = Trainer(tiny_preset("tiny"), TrainConfig(batch_size=4), load_vgg19("random")).model.state_dict()
    moved = max((single[f"model.{k}"] - init[k].double()).abs().max().item() for k in init)
    assert moved > 1e-5  # trained weights are compared, not two copies of the initial ones
