"""Moved to :mod:`slowfast_zoo.tools.export` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.tools.export import (  # noqa: F401
    FORMATS,
    ONNX_ATOL,
    ONNX_OPSET,
    TORCHSCRIPT_ATOL,
    check_onnx,
    check_torchscript,
    example_input,
    export_model,
    export_onnx,
    export_torchscript,
)

warn_moved(__name__, "slowfast_zoo.tools.export")
