"""Building blocks of a SlowFast pathway: conv+BN units and the 3D bottleneck.

Reproduces the ResNet3d blocks of MMAction2 (Apache-2.0) as used by SlowFast
(Feichtenhofer et al., ICCV 2019): "pytorch"-style bottlenecks with the spatial stride
on the 1x3x3 conv, optional temporal inflation (3x1x1) of the first conv, no biases.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["is_channels_last_3d", "Conv3d", "ConvBn", "NormLateral", "Bottleneck", "make_stage",
           "STAGE_BLOCKS"]

#: Bottleneck blocks per stage for each ResNet depth.
STAGE_BLOCKS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def _triple(v: int | Sequence[int]) -> tuple[int, int, int]:
    """``v`` as a 3-tuple: an int repeated, or a sequence of exactly three ints.

    Example:
        >>> _triple(1), _triple([3, 1, 1])
        ((1, 1, 1), (3, 1, 1))
    """
    if isinstance(v, int):
        return (v, v, v)
    t, h, w = v
    return (t, h, w)


def is_channels_last_3d(t: torch.Tensor) -> bool:
    """``t`` is laid out channels_last_3d (and is not also plain contiguous, i.e. unambiguous).

    Example:
        >>> x = torch.zeros(1, 3, 4, 8, 8)
        >>> is_channels_last_3d(x), is_channels_last_3d(x.contiguous(memory_format=torch.channels_last_3d))
        (False, True)
    """
    return t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d) \
        and not t.is_contiguous()


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that runs as a 2-D convolution on channels_last_3d inputs when it can.

    Every conv of SlowFast but the fast stem is either purely spatial (``1 x kh x kw``) or
    purely temporal (``kt x 1 x 1``). On a channels_last_3d tensor ``[N, C, T, H, W]`` both are
    2-D convolutions over free views: fold T into the batch (``[N*T, C, H, W]``, channels_last)
    for the spatial ones, fold H and W together (``[N, C, T, H*W]``) for the temporal ones.
    Same weights, same sums (outputs equal to float rounding), but oneDNN's 2-D kernels are much
    faster on CPU with one clip per forward; with 3 clips per forward the two paths run about
    equally fast (measured with benchmarks/bench_conv2d_path.py: benchmarks/RESULTS.md, sections
    "What was tried, kept or dropped" and "Measurements quoted from the code"). Contiguous
    inputs, and kernels that mix time and space (the fast stem), take the ordinary 3-D path.

    Example:
        >>> conv = Conv3d(4, 8, (1, 3, 3), padding=(0, 1, 1), bias=False)
        >>> x = torch.randn(2, 4, 3, 8, 8)
        >>> y = conv(x.contiguous(memory_format=torch.channels_last_3d))  # the 2-D path
        >>> y.shape, torch.allclose(y, conv(x), atol=1e-5)
        (torch.Size([2, 8, 3, 8, 8]), True)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.dim() == 5 and x.is_contiguous(memory_format=torch.channels_last_3d)
                and self.groups == 1 and self.dilation[0] == 1
                and self.padding_mode == "zeros" and not isinstance(self.padding, str)):
            kt, kh, kw = self.kernel_size
            st, sh, sw = self.stride
            pt, ph, pw = self.padding
            n, c, t, h, w = x.shape
            if kt == 1 and st == 1 and pt == 0:
                y = F.conv2d(x.transpose(1, 2).reshape(n * t, c, h, w), self.weight.squeeze(2),
                             self.bias, (sh, sw), (ph, pw), self.dilation[1:])
                return y.reshape(n, t, *y.shape[1:]).transpose(1, 2)
            if (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0):
                y = F.conv2d(x.reshape(n, c, t, h * w), self.weight.squeeze(4), self.bias,
                             (st, 1), (pt, 0))
                return y.reshape(*y.shape[:3], h, w)
        return super().forward(x)


class ConvBn(nn.Module):
    """Conv3d (no bias) followed by BatchNorm3d; the activation is applied by the caller.

    Kept as a pair so that ``conv``/``bn`` map one-to-one onto MMAction2's ConvModule
    weights, and so that the BatchNorm can later be folded into the convolution.

    Example:
        >>> unit = ConvBn(3, 8, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        >>> unit(torch.zeros(1, 3, 4, 16, 16)).shape
        torch.Size([1, 8, 4, 8, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int, int],
                 stride: int | tuple[int, int, int] = 1,
                 padding: int | tuple[int, int, int] = 0,
                 dilation: int | tuple[int, int, int] = 1) -> None:
        super().__init__()
        self.conv = Conv3d(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                           _triple(padding), _triple(dilation), bias=False)
        #: ``nn.Identity`` once folded into ``conv`` (:func:`~slowfast_zoo.models.fusion.fold_conv_bn`).
        self.bn: nn.BatchNorm3d | nn.Identity = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class NormLateral(Conv3d):
    """A lateral (fast -> slow) conv followed by BatchNorm and ReLU: MMAction2's ``lateral_norm=True``.

    It *is* the conv (a subclass), so its weight keeps the plain lateral's name
    (``laterals.i.weight``) and only the BatchNorm adds keys (``laterals.i.bn.*``, MMAction2's
    ``<stage>_lateral.bn.*``): one key mapping serves both kinds of file.
    :func:`~slowfast_zoo.models.fusion.fold_lateral_bn` folds the BatchNorm into the conv.

    Example:
        >>> lateral = NormLateral(8, 16, (7, 1, 1), (4, 1, 1), (3, 0, 0))
        >>> sorted(k for k in lateral.state_dict() if not k.startswith("bn."))
        ['weight']
        >>> lateral(torch.zeros(1, 8, 32, 4, 4)).shape
        torch.Size([1, 16, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int, int],
                 stride: tuple[int, int, int], padding: tuple[int, int, int]) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn: nn.BatchNorm3d | nn.Identity = nn.BatchNorm3d(out_channels, eps=1e-5, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(super().forward(x)))


class Bottleneck(nn.Module):
    """1x1x1 (or 3x1x1 when inflated) -> 1x3x3 (spatial stride) -> 1x1x1 (x4 channels), + shortcut.

    Args:
        in_channels: input width (block 0 of a slow stage also carries the lateral channels).
        planes: bottleneck width; the output has ``4 * planes`` channels.
        spatial_stride: stride of the 1x3x3 conv and of the projection shortcut.
        inflate: give the first conv a temporal kernel of 3 (padding 1).
        dilation: spatial dilation (and padding) of the 1x3x3 conv (PyTorchVideo's detector
            dilates res5 by 2).

    Example:
        >>> block = Bottleneck(64, 16, spatial_stride=2, inflate=True)
        >>> block(torch.zeros(1, 64, 4, 8, 8)).shape, block.shortcut is not None
        (torch.Size([1, 64, 4, 4, 4]), True)
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, spatial_stride: int = 1,
                 inflate: bool = False, dilation: int = 1) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        if inflate:
            self.conv_a = ConvBn(in_channels, planes, (3, 1, 1), padding=(1, 0, 0))
        else:
            self.conv_a = ConvBn(in_channels, planes, 1)
        self.conv_b = ConvBn(planes, planes, (1, 3, 3), stride=(1, spatial_stride, spatial_stride),
                             padding=(0, dilation, dilation), dilation=(1, dilation, dilation))
        self.conv_c = ConvBn(planes, out_channels, 1)
        self.shortcut: ConvBn | None = None
        if spatial_stride != 1 or in_channels != out_channels:
            self.shortcut = ConvBn(in_channels, out_channels, 1,
                                   stride=(1, spatial_stride, spatial_stride))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.conv_a(x))
        out = self.relu(self.conv_b(out))
        out = self.conv_c(out)
        out += identity  # in place: no new block-sized tensor to allocate (benchmarks/RESULTS.md)
        return self.relu(out)


def make_stage(in_channels: int, planes: int, num_blocks: int, spatial_stride: int,
               inflate: bool, num_inflated: int | None = None, dilation: int = 1) -> nn.Sequential:
    """One residual stage: ``num_blocks`` bottlenecks, the first one striding/projecting.

    Args:
        in_channels: input width of the first block.
        planes: bottleneck width (the stage outputs ``4 * planes`` channels).
        num_blocks: bottlenecks in the stage.
        spatial_stride: stride of the first block.
        inflate: whether the blocks' first conv is temporal (3x1x1).
        num_inflated: with ``inflate``, only the first ``num_inflated`` blocks are (PySlowFast's
            ``NUM_BLOCK_TEMP_KERNEL``: its R101 16x8 has 6 temporal blocks of 23 in res4);
            ``None``: all of them.
        dilation: spatial dilation of every block's 1x3x3 conv.

    Example:
        >>> stage = make_stage(16, 8, num_blocks=3, spatial_stride=2, inflate=False)
        >>> len(stage), stage(torch.zeros(1, 16, 2, 8, 8)).shape
        (3, torch.Size([1, 32, 2, 4, 4]))
        >>> [b.conv_a.conv.kernel_size[0] for b in make_stage(16, 8, 3, 1, True, num_inflated=2)]
        [3, 3, 1]
    """
    limit = num_blocks if num_inflated is None else num_inflated
    return nn.Sequential(*(
        Bottleneck(in_channels if i == 0 else planes * Bottleneck.expansion, planes,
                   spatial_stride if i == 0 else 1, inflate and i < limit, dilation)
        for i in range(num_blocks)))
