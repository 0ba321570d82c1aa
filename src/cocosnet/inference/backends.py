"""The network run by ONNX Runtime or OpenVINO instead of PyTorch (`RuntimeOptions.backend`).

Only the network changes runtime: the Translator still prepares the inputs (inference/preprocess) and makes the
torch backend's checks (class-id range, channel count, size: `export.graph.check_graph_inputs`) before the graph
runs, so inputs, outputs and errors are the torch backend's. The graph is the file `cocosnet export` wrote
(`RuntimeOptions.exported`), or, without one, the network exported at load into a temporary folder (float32 ONNX,
any batch, golden-checked like `cocosnet export`; removed when the process exits). Backends run on the CPU.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import torch

from cocosnet.export.exporter import export_network
from cocosnet.export.graph import check_graph_inputs
from cocosnet.export.runtimes import OPENVINO_PRECISION, OnnxRuntimeRunner, OpenVinoRunner, Runner, require
from cocosnet.model import CoCosNet
from cocosnet.runtime import RuntimeOptions


class ExportedNetwork:
    """(semantic, exemplar, exemplar_semantic) tensors -> (image, warped) float32 on the CPU, through `runner`."""

    def __init__(self, model: CoCosNet, runner: Runner):
        self.cfg, self.runner = model.cfg, runner

    def __call__(self, semantic: torch.Tensor, exemplar: torch.Tensor, exemplar_semantic: torch.Tensor | None = None):
        inputs = check_graph_inputs(self.cfg, semantic.cpu(), exemplar.cpu(),
                                    None if exemplar_semantic is None else exemplar_semantic.cpu())
        return self.runner(inputs)


def _export_on_the_fly(model: CoCosNet) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="cocosnet-export-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return export_network(model, "onnx", folder / "network.onnx", "float32", dynamic_batch=True).path


def _check_config(model: CoCosNet, recorded: str | None, path: str) -> None:
    if recorded is None:
        return
    if json.loads(recorded) != json.loads(json.dumps(model.cfg.to_dict())):
        name = json.loads(recorded).get("name")
        raise ValueError(f"--exported {path} was exported from another model ({name!r} preset, or other options / "
                         f"image size) than the one loaded ({model.cfg.name!r} at {model.cfg.image_size}); "
                         f"export this model again, or load the one it came from")


def load_backend(model: CoCosNet, runtime: RuntimeOptions, device: torch.device) -> ExportedNetwork:
    """The network in `runtime.backend` (onnxruntime / openvino) from `runtime.exported` or exported now."""
    backend, dtype = runtime.backend, runtime.dtype
    if device.type != "cpu":
        raise ValueError(f"--backend {backend} runs on the CPU; use --device cpu (or auto) with it")
    require("onnxruntime" if backend == "onnxruntime" else "openvino")  # the pip command before any export
    if backend == "onnxruntime" and dtype != "float32":
        raise ValueError(f"--backend onnxruntime runs float32 only (its CPU kernels have no {dtype} convolution); "
                         f"use --backend openvino or torch for {dtype}")
    path = runtime.exported
    if path is not None:
        suffixes = (".onnx",) if backend == "onnxruntime" else (".onnx", ".xml")
        if Path(path).suffix.lower() not in suffixes:
            raise ValueError(f"--exported {path}: --backend {backend} runs {' or '.join(suffixes)} files")
        if not Path(path).is_file():
            raise FileNotFoundError(f"--exported: exported network not found: {path}")
    else:
        path = _export_on_the_fly(model)
    if backend == "onnxruntime":
        runner = OnnxRuntimeRunner(path)
        recorded = runner.session.get_modelmeta().custom_metadata_map.get("cocosnet_config")
    else:
        runner = OpenVinoRunner(path, precision=OPENVINO_PRECISION[dtype])
        recorded = runner.config
    _check_config(model, recorded, str(path))
    return ExportedNetwork(model, runner)
