"""SlowFast network modules."""

from slowfast_zoo.models.layers import Bottleneck, ConvBn
from slowfast_zoo.models.slowfast import Pathway, SlowFast

__all__ = ["SlowFast", "Pathway", "Bottleneck", "ConvBn"]
