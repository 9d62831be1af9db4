"""Moved to :mod:`slowfast_zoo.tools.benchmark` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.tools.benchmark import (  # noqa: F401
    BenchmarkConfig,
    SEED_QUIRK_NOTE,
    benchmark,
    check_dtype,
    format_report,
    load_average,
    matmul_peak_gflops,
    native_low_precision,
    peak_memory_bytes,
    reset_peak_memory,
)

warn_moved(__name__, "slowfast_zoo.tools.benchmark")
