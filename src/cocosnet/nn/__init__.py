"""Building blocks shared by the correspondence network, the generator and the discriminator."""

from cocosnet.nn.attention import SelfAttention, softmax_attention
from cocosnet.nn.bands import in_row_bands
from cocosnet.nn.blocks import ResidualBlock, SPADEResnetBlock
from cocosnet.nn.inplace import Arithmetic, arithmetic, recording_graph
from cocosnet.nn.normalization import SPADE, PositionalNorm2d, feature_normalize
from cocosnet.nn.spectral import spectral_norm

__all__ = [
    "Arithmetic",
    "SPADE",
    "PositionalNorm2d",
    "ResidualBlock",
    "SPADEResnetBlock",
    "SelfAttention",
    "arithmetic",
    "feature_normalize",
    "in_row_bands",
    "recording_graph",
    "softmax_attention",
    "spectral_norm",
]
