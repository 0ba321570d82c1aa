"""`cocosnet export`: the network as ONNX / OpenVINO IR / torch.export, written only if its golden check passes."""

from __future__ import annotations

import argparse

from cocosnet.commands._common import add_model_arguments, check_model_arguments, load_translator

FORMATS = ("onnx", "openvino", "torch-export")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, backend=False)  # exported on the CPU; --device is not used
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="onnx (.onnx, opset 18), openvino (IR: .xml + .bin beside it), torch-export (.pt2)")
    p.add_argument("--out", required=True, help="the file to write (.onnx, .xml or .pt2, as --format)")
    p.add_argument("--dynamic-batch", action="store_true", help="any batch size (default: a fixed batch of 1)")


def run(args: argparse.Namespace) -> int:
    from cocosnet.export.exporter import check_export_arguments

    check_export_arguments(args.format, args.out, args.dtype)
    check_model_arguments(args)
    args.device, args.low_memory, args.unmap_weights = "cpu", False, False  # the model is traced, never run eagerly
    translator = load_translator(args)
    from cocosnet.export import export_network

    result = export_network(translator.model, args.format, args.out, args.dtype, args.dynamic_batch)
    diff = ", ".join(f"{k} {v:.2g}" for k, v in result.max_abs.items())
    print(f"wrote {result.path} ({args.format}, {args.dtype}{', dynamic batch' if args.dynamic_batch else ''}); "
          f"golden check passed: max abs vs PyTorch float32 {diff} (bound {result.bound:g}); export "
          f"{result.export_seconds:.1f} s, check {result.check_seconds:.1f} s")
    return 0
