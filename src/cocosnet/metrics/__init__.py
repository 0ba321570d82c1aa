"""Evaluation metrics (issue 5): FID/KID, SWD, semantic consistency, style relevance, answer-key metrics.

See docs/evaluation.md for the protocols, options and the weights each metric uses. torchmetrics is imported
only when FID/KID is built (``FIDMetric``), so the other metrics need nothing beyond torch.
"""

from cocosnet.metrics.answer_key import (
    AnswerKeyMetrics,
    baseline_mean_colour,
    baseline_paste,
    delta_e76,
    per_class_delta_e,
    srgb_to_lab,
)
from cocosnet.metrics.fid import (
    FIDMetric,
    InceptionFeatures,
    compute_fid,
    encode_roundtrip,
    frechet_distance,
    frechet_distance_eigh,
    frechet_distance_from_features,
    kernel_inception_distance,
    load_inception,
    to_uint8,
)
from cocosnet.metrics.results import compare_results, make_grid, write_results
from cocosnet.metrics.semantic import region_means, semantic_consistency, style_relevance
from cocosnet.metrics.swd import SlicedWassersteinDistance, compute_swd

__all__ = [
    "AnswerKeyMetrics",
    "FIDMetric",
    "InceptionFeatures",
    "SlicedWassersteinDistance",
    "baseline_mean_colour",
    "baseline_paste",
    "compare_results",
    "compute_fid",
    "delta_e76",
    "encode_roundtrip",
    "frechet_distance",
    "frechet_distance_eigh",
    "frechet_distance_from_features",
    "kernel_inception_distance",
    "load_inception",
    "make_grid",
    "per_class_delta_e",
    "region_means",
    "semantic_consistency",
    "srgb_to_lab",
    "style_relevance",
    "compute_swd",
    "to_uint8",
    "write_results",
]
