"""`export_network`: the folded network -> ONNX / OpenVINO IR / torch.export, written only once it passes the
golden-output check (the exported graph run on a reference input, against PyTorch float32)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from cocosnet.export.graph import OUTPUT_NAMES, ExportGraph, input_names, reference_inputs
from cocosnet.export.runtimes import FORMAT_SUFFIX, OPENVINO_PRECISION, load_runner, require
from cocosnet.fileio import check_output_path
from cocosnet.model import CoCosNet
from cocosnet.runtime import RuntimeOptions, set_runtime

FORMATS = tuple(FORMAT_SUFFIX)
OPSET = 18
# Max abs difference of (image, warped exemplar) in [-1,1] allowed against PyTorch float32 on the reference input.
# float32: the 1e-4 (ours against the official code: ~4e-6; ONNX Runtime / OpenVINO reorder sums, and the
# warp's softmax at temperature 0.01 multiplies a correlation's rounding by 100). bfloat16 keeps 8 significant bits
# (unit roundoff 2^-8 = 3.9e-3) through ~25 layers; float16 keeps 11 (2^-11): see docs/export.md for the measured
# differences these bounds sit above.
GOLDEN_BOUND = {"float32": 1e-4, "bfloat16": 0.15, "float16": 0.03}


class GoldenCheckError(ValueError):
    """The exported graph departs from PyTorch beyond the bound; nothing was written."""


@dataclass
class ExportResult:
    path: Path
    format: str
    dtype: str
    max_abs: dict  # {"image": ..., "warped": ...} against PyTorch float32
    bound: float
    export_seconds: float
    check_seconds: float


def _dtype(name: str) -> torch.dtype:
    if name not in GOLDEN_BOUND:
        raise ValueError(f"--dtype must be float32, bfloat16 or float16, got {name!r}")
    return getattr(torch, name)


def export_program(model: CoCosNet, dtype: str = "float32", dynamic_batch: bool = False):
    """torch.export of the network (spectral norm already folded: a Translator's model) as an ExportGraph.

    A dynamic batch is traced at batch 2 (torch.export specialises a size of 1)."""
    cfg = model.cfg
    graph = ExportGraph(model, _dtype(dtype)).eval()
    inputs = tuple(reference_inputs(cfg, batch=2 if dynamic_batch else 1))
    shapes = None
    if dynamic_batch:
        batch = torch.export.Dim("batch", min=1, max=1024)
        shapes = tuple({0: batch} for _ in inputs)
    with torch.no_grad():
        return torch.export.export(graph, inputs, dynamic_shapes=shapes, strict=False)


def write_onnx(program, path: Path, cfg_json: str, names: tuple[str, ...]) -> None:
    require("onnx"), require("onnxscript")
    import onnx

    # optimize=False: the exporter's own graph optimiser costs ~60% of the export, and ONNX Runtime and OpenVINO
    # fold and fuse the graph again when they load it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        onnx_program = torch.onnx.export(program, dynamo=True, opset_version=OPSET, optimize=False, verbose=False,
                                         input_names=list(names), output_names=list(OUTPUT_NAMES))
    onnx_program.save(str(path))
    proto = onnx.load(str(path))
    onnx.helper.set_model_props(proto, {"cocosnet_config": cfg_json})
    onnx.save(proto, str(path))


def write_openvino(onnx_path: Path, path: Path, cfg_json: str, dtype: str) -> None:
    ov = require("openvino")
    model = ov.convert_model(str(onnx_path))
    model.set_rt_info(cfg_json, ["cocosnet", "config"])
    model.set_rt_info(OPENVINO_PRECISION[dtype], ["cocosnet", "inference_precision"])
    ov.save_model(model, str(path), compress_to_fp16=dtype == "float16")


def golden_check(model: CoCosNet, path: Path, dtype: str, reference: tuple | None = None) -> dict:
    """Max abs difference of the exported graph's (image, warped) from PyTorch float32 on the reference input."""
    cfg = model.cfg
    inputs = reference_inputs(cfg, batch=1)
    if reference is None:
        with torch.inference_mode():
            reference = ExportGraph(model)(*inputs)
    image, warped = load_runner(path)(inputs)
    pairs = zip(OUTPUT_NAMES, (image, warped), reference, strict=True)
    return {name: float((a.float() - b).abs().max()) for name, a, b in pairs}


def _rename_into_place(tmp_dir: Path, tmp_main: Path, out: Path) -> None:
    """Move the finished file(s) next to `out`; an OpenVINO IR's .bin goes first, its .xml last."""
    if tmp_main.suffix == ".xml":
        bin_out = out.with_suffix(".bin")
        check_output_path(bin_out)
        os.replace(tmp_main.with_suffix(".bin"), bin_out)
    os.replace(tmp_main, out)


def check_export_arguments(fmt: str, out: str | Path, dtype: str) -> Path:
    """The file `fmt` would write at `out`, or ValueError / OutputPathError naming the problem (before the model
    loads)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    _dtype(dtype)
    if fmt == "onnx" and dtype != "float32":
        raise ValueError(f"--format onnx --dtype {dtype}: ONNX Runtime's CPU kernels have no {dtype} convolution; "
                         f"export float32, or --format openvino / torch-export with --dtype {dtype}")
    out = Path(out)
    if out.suffix.lower() != FORMAT_SUFFIX[fmt]:
        raise ValueError(f"--out {out}: a {fmt} export is written as a {FORMAT_SUFFIX[fmt]} file")
    if fmt == "openvino":
        check_output_path(out.with_suffix(".bin"))
    return check_output_path(out)


def export_network(model: CoCosNet, fmt: str, out: str | Path, dtype: str = "float32",
                   dynamic_batch: bool = False) -> ExportResult:
    """Export `model` (folded, eval mode, on the CPU) to `out` in `fmt`; raises GoldenCheckError (and leaves no
    file) when the exported graph departs from PyTorch float32 beyond GOLDEN_BOUND[dtype]."""
    target, out, bound = check_export_arguments(fmt, out, dtype), Path(out), GOLDEN_BOUND[dtype]
    cfg_json = json.dumps(model.cfg.to_dict())
    runtime = next((m.runtime for m in model.modules() if isinstance(getattr(m, "runtime", None), RuntimeOptions)),
                   RuntimeOptions())
    # one graph: no row bands, the self-attention as the dense softmax (the same numbers as chunked), the warp as
    # eager inference runs it (the patch sums, block by block: cocosnet.nn.patch_match)
    set_runtime(model, runtime.replace(band_rows=0, warp_impl="auto", attention_impl="dense"))
    with torch.inference_mode():  # the float32 reference, before the weights may be cast
        reference = ExportGraph(model)(*reference_inputs(model.cfg, batch=1))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        start = time.perf_counter()
        program = export_program(model, dtype, dynamic_batch)
        tmp = tmp_dir / ("network" + FORMAT_SUFFIX[fmt])
        if fmt == "torch-export":
            torch.export.save(program, str(tmp), extra_files={"cocosnet_config.json": cfg_json})
        else:
            onnx_path = tmp if fmt == "onnx" else tmp_dir / "network.onnx"
            write_onnx(program, onnx_path, cfg_json, input_names(model.cfg))
            if fmt == "openvino":
                write_openvino(onnx_path, tmp, cfg_json, dtype)
        exported = time.perf_counter()
        try:
            max_abs = golden_check(model, tmp, dtype, reference)
        except (RuntimeError, ValueError) as exc:  # the runtime rejects the graph: a failed check, said so
            raise GoldenCheckError(f"golden check failed: the {fmt} export does not run ({exc}); nothing was "
                                   f"written to {out}") from exc
        checked = time.perf_counter()
        worst = max(max_abs.values())
        if not worst <= bound:  # NaN fails too
            raise GoldenCheckError(
                f"golden check failed: the {fmt} export departs from PyTorch float32 by {worst:.3g} max abs "
                f"(image {max_abs['image']:.3g}, warped exemplar {max_abs['warped']:.3g}; bound for {dtype}: "
                f"{bound:g}); nothing was written to {out}")
        _rename_into_place(tmp_dir, tmp, target)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        set_runtime(model, runtime)
    return ExportResult(out, fmt, dtype, max_abs, bound, exported - start, checked - exported)
