"""Running an exported graph: ONNX Runtime, OpenVINO or torch.export, each imported only when asked.

Every runner takes the graph's inputs as tensors (`graph.check_graph_inputs`) and returns (image, warped) as
float32 tensors; a graph exported with a fixed batch of 1 is run one item at a time.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

# which file each format writes, and the optional package (and its pip extra) that runs it
FORMAT_SUFFIX = {"onnx": ".onnx", "openvino": ".xml", "torch-export": ".pt2"}
PACKAGES = {"onnx": ("onnx", "onnx"), "onnxscript": ("onnxscript", "onnx"), "onnxruntime": ("onnxruntime", "onnx"),
            "openvino": ("openvino", "openvino")}
BACKENDS = ("torch", "onnxruntime", "openvino")
# the precision OpenVINO is told to compute in (its default on bf16/AMX CPUs is bf16: never left to chance)
OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}


class MissingPackageError(RuntimeError):
    """An optional package is not installed; the message names the pip command that brings it."""


def require(module: str) -> Any:
    """Import an optional package, or MissingPackageError naming `pip install "cocosnet[extra]"`."""
    package, extra = PACKAGES[module]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingPackageError(f"this needs the optional package {package!r}, which is not installed: "
                                  f'pip install "cocosnet[{extra}]"') from exc


def format_of(path: str | Path) -> str:
    """The export format a file's suffix says (.onnx, .xml = OpenVINO IR, .pt2 = torch.export)."""
    suffix = Path(path).suffix.lower()
    for fmt, s in FORMAT_SUFFIX.items():
        if s == suffix:
            return fmt
    raise ValueError(f"{path}: not an exported network (.onnx, OpenVINO .xml or torch.export .pt2)")


class Runner:
    """A loaded exported graph. `batch`: the fixed batch it was exported with, or None (dynamic)."""

    batch: int | None = None

    def run(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def __call__(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        n = inputs[0].shape[0]
        if self.batch is None or n == self.batch:
            return self.run(inputs)
        if self.batch != 1:
            raise ValueError(f"the exported graph takes batches of {self.batch}, got {n}")
        parts = [self.run([x[i : i + 1] for x in inputs]) for i in range(n)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def _numpy(inputs: list[torch.Tensor]) -> list[np.ndarray]:
    return [x.detach().cpu().contiguous().numpy() for x in inputs]


class OnnxRuntimeRunner(Runner):
    def __init__(self, path: str | Path, threads: int | None = None):
        ort = require("onnxruntime")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its constant folder warns about the exporter's CastLike nodes
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]
        dim = self.session.get_inputs()[0].shape[0]
        self.batch = dim if isinstance(dim, int) else None

    def run(self, inputs):
        image, warped = self.session.run(None, dict(zip(self.names, _numpy(inputs), strict=True)))
        return torch.from_numpy(image), torch.from_numpy(warped)


class OpenVinoRunner(Runner):
    """An OpenVINO IR (.xml + .bin) or an .onnx file, compiled for the CPU in `precision` (f32 unless the IR
    records another in its rt_info, as `cocosnet export --format openvino --dtype bfloat16` writes)."""

    def __init__(self, path: str | Path, precision: str | None = None, threads: int | None = None):
        ov = require("openvino")
        core = ov.Core()
        model = core.read_model(str(path))
        self.config = (model.get_rt_info(["cocosnet", "config"]).astype(str)
                       if model.has_rt_info(["cocosnet", "config"]) else None)
        if precision is None:
            precision = "f32"
            if model.has_rt_info(["cocosnet", "inference_precision"]):
                precision = model.get_rt_info(["cocosnet", "inference_precision"]).astype(str)
        config = {"INFERENCE_PRECISION_HINT": precision}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.precision = precision
        self.compiled = core.compile_model(model, "CPU", config)
        shape = model.inputs[0].get_partial_shape()[0]
        self.batch = None if shape.is_dynamic else shape.get_length()

    def run(self, inputs):
        out = self.compiled(_numpy(inputs))
        image, warped = (out[self.compiled.outputs[i]] for i in range(2))
        return torch.from_numpy(np.array(image)), torch.from_numpy(np.array(warped))


class TorchExportRunner(Runner):
    """A torch.export program (.pt2). Loading one runs its serialized graph: trust it as you would code."""

    def __init__(self, path: str | Path):
        program = torch.export.load(str(path))
        spec = program.graph_signature.user_inputs[0]
        node = next(n for n in program.graph.nodes if n.name == spec)
        dim = node.meta["val"].shape[0]
        self.batch = dim if isinstance(dim, int) else None
        self.module = program.module()

    def run(self, inputs):
        with torch.inference_mode():
            image, warped = self.module(*inputs)
        return image, warped


def load_runner(path: str | Path, backend: str | None = None, threads: int | None = None) -> Runner:
    """The runner for an exported file: `backend` onnxruntime (.onnx), openvino (.xml or .onnx), or None (the
    format's own: ONNX Runtime for .onnx, OpenVINO for .xml, torch for .pt2)."""
    fmt = format_of(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"exported network not found: {path}")
    if backend is None:
        backend = {"onnx": "onnxruntime", "openvino": "openvino", "torch-export": "torch"}[fmt]
    if backend == "onnxruntime" and fmt == "onnx":
        return OnnxRuntimeRunner(path, threads)
    if backend == "openvino" and fmt in ("onnx", "openvino"):
        return OpenVinoRunner(path, threads=threads)
    if backend == "torch" and fmt == "torch-export":
        return TorchExportRunner(path)
    raise ValueError(f"backend {backend!r} cannot run {path} (onnxruntime: .onnx; openvino: .xml or .onnx; "
                     f"torch: .pt2)")
