"""The correspondence inspector in the JSON API: a translation's match confidence and flow as PNGs, and the
classes of the painting its exemplar lacks (opt-in with `inspect: true`; docs/inspector.md)."""

from __future__ import annotations

from typing import Any

from cocosnet.app.codec import encode_png
from cocosnet.app.schemas import ClassInfo
from cocosnet.viz import confidence_image, flow_image


def inspection_fields(out: Any, classes: list[ClassInfo]) -> dict[str, Any]:
    """The response fields of an inspected `Translation` (first item): confidence (greyscale PNG), flow (colour
    wheel PNG), flow_scale (pixels at full colour), missing_classes (the painting's classes the exemplar lacks)."""
    flow, scale = flow_image(out.flow[0])
    lacking = None if out.missing_classes is None else [classes[c.id] for c in out.missing_classes[0]]
    return {"confidence": encode_png(confidence_image(out.confidence[0])), "flow": encode_png(flow),
            "flow_scale": round(scale, 3), "missing_classes": lacking}
