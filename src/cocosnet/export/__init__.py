"""Verified export of the network (ONNX, OpenVINO IR, torch.export) and the runners of exported graphs.

The exporters and runtimes (onnx, onnxscript, onnxruntime, openvino) are optional extras, imported only when a
function here needs them (`pip install "cocosnet[onnx]"`, `"cocosnet[openvino]"`).
"""

from cocosnet.export.exporter import FORMATS, GOLDEN_BOUND, ExportResult, GoldenCheckError, export_network
from cocosnet.export.graph import ExportGraph, check_graph_inputs, reference_inputs
from cocosnet.export.runtimes import BACKENDS, MissingPackageError, load_runner

__all__ = ["BACKENDS", "FORMATS", "GOLDEN_BOUND", "ExportGraph", "ExportResult", "GoldenCheckError",
           "MissingPackageError", "check_graph_inputs", "export_network", "load_runner", "reference_inputs"]
