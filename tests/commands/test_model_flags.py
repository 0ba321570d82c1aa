"""The model flags shared by translate, serve and evaluate reach the Translator's RuntimeOptions."""

import argparse

import torch

from cocosnet.commands._common import add_model_arguments, load_translator


def test_channels_last_and_dtype_flags_build_the_runtime(tiny_checkpoint):
    p = argparse.ArgumentParser()
    add_model_arguments(p)
    args = p.parse_args(["--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--dtype", "bfloat16",
                         "--channels-last"])
    tr = load_translator(args)
    assert tr.runtime.channels_last and tr.runtime.dtype == "bfloat16" and tr.runtime.cast_weights
    weight = tr.model.generator.conv_img.weight
    assert weight.dtype == torch.bfloat16 and weight.is_contiguous(memory_format=torch.channels_last)
    assert not load_translator(p.parse_args(["--checkpoint", str(tiny_checkpoint)])).runtime.channels_last
