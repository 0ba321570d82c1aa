"""Evaluation metrics (issue 5): FID/KID, SWD, semantic consistency, style relevance, answer-key metrics.

See docs/evaluation.md for the protocols, options and the weights each metric uses. torchmetrics is imported
only when FID/KID is built (``FIDMetric``), so the other metrics need nothing beyond torch.
"""

from cocosnet.evaluation.metrics.answer_key import (
    AnswerKeyMetrics,
    delta_e76,
    per_class_delta_e,
    srgb_to_lab,
)
from cocosnet.evaluation.metrics.fid import (
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
from cocosnet.evaluation.metrics.semantic import region_means, semantic_consistency, style_relevance
from cocosnet.evaluation.metrics.swd import SlicedWassersteinDistance, compute_swd

__all__ = [
    "AnswerKeyMetrics",
    "FIDMetric",
    "InceptionFeatures",
    "SlicedWassersteinDistance",
    "compute_fid",
    "delta_e76",
    "encode_roundtrip",
    "frechet_distance",
    "frechet_distance_eigh",
    "frechet_distance_from_features",
    "kernel_inception_distance",
    "load_inception",
    "per_class_delta_e",
    "region_means",
    "semantic_consistency",
    "srgb_to_lab",
    "style_relevance",
    "compute_swd",
    "to_uint8",
]
