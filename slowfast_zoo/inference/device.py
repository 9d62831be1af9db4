"""Devices, autocast dtypes and peak-memory counters, parsed and read in one place."""

from __future__ import annotations

import contextlib
import sys

import torch

from slowfast_zoo.errors import UsageError

__all__ = ["resolve_device", "parse_dtype", "autocast", "DTYPES", "reset_peak_memory",
           "peak_memory_bytes", "cpu_flags", "native_low_precision", "slow_low_precision_warning"]

#: Names of the autocast dtypes accepted by the command line and the applications
#: (``None``: plain float32).
DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> CUDA when available, else CPU; a name is parsed by ``torch.device`` and must
    exist on this machine.

    A device that does not exist (``"cuda"`` without a GPU, ``"cuda:7"`` with one GPU) is
    refused here, when the options are checked, not by the first tensor moved to it after
    the weights are loaded.

    Raises:
        UsageError: a string that is not a device (``"bogus"``), a device type this machine's
            torch cannot use, or an index beyond its devices.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
        >>> resolve_device("bogus")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.UsageError: device must be like 'cpu', 'cuda' or 'cuda:1', got 'bogus'
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise UsageError(f"device must be like 'cpu', 'cuda' or 'cuda:1', got {device!r}") from e
    if dev.type != "cpu":
        _check_present(dev, str(device))
    return dev


def _check_present(dev: torch.device, name: str) -> None:
    """Refuse a device this process cannot compute on (the message says what exists)."""
    if dev.type == "mps":
        available, count = torch.backends.mps.is_available(), 1
    elif dev.type == "cuda":
        available = torch.cuda.is_available()
        count = torch.cuda.device_count() if available else 0
    else:  # meta, xpu, ...: the library's engines are written for CPU and CUDA only
        raise UsageError(f"device {name!r}: use 'cpu' or 'cuda' ('cuda:N' for GPU N)")
    if not available:
        raise UsageError(f"device {name!r}: this machine has no {dev.type.upper()} device that "
                         f"torch {torch.__version__} can use; use 'cpu'")
    if dev.index is not None and dev.index >= count:
        have = f"{dev.type}:0" if count == 1 else f"{dev.type}:0 to {dev.type}:{count - 1}"
        raise UsageError(f"device {name!r}: this machine has {count} {dev.type.upper()} "
                         f"device{'s' if count != 1 else ''} ({have})")


def parse_dtype(name: str | torch.dtype | None) -> torch.dtype | None:
    """``"fp32"``/``None`` -> ``None`` (float32), ``"bf16"`` -> ``torch.bfloat16``, ``"fp16"`` -> ``torch.float16``.

    Example:
        >>> parse_dtype("bf16")
        torch.bfloat16
    """
    if name is None or isinstance(name, torch.dtype):
        return None if name == torch.float32 else name
    if name not in DTYPES:
        raise UsageError(f"dtype must be one of {sorted(DTYPES)}, got {name!r}")
    return DTYPES[name]


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for a low-precision ``dtype``, a no-op for ``None`` / float32.

    Example:
        >>> with autocast(torch.device("cpu"), torch.bfloat16):
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
        torch.bfloat16
        >>> with autocast(torch.device("cpu"), None):
        ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
        torch.float32
    """
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def cpu_flags() -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where it is not readable).

    Example:
        >>> flags = cpu_flags()
        >>> isinstance(flags, set) and all(isinstance(f, str) for f in flags)
        True
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_low_precision(dtype: str) -> bool:
    """Whether this CPU computes ``dtype`` ("bf16"/"fp16") natively (AVX-512 BF16/FP16, AMX).

    Example:
        >>> native_low_precision("fp32")  # any other name: nothing is emulated
        True
    """
    flags = cpu_flags()
    if dtype == "bf16":
        return bool({"avx512_bf16", "amx_bf16"} & flags)
    if dtype == "fp16":
        return bool({"avx512_fp16", "amx_fp16"} & flags)
    return True


def slow_low_precision_warning(device: str | torch.device | None, dtype: torch.dtype | None) -> str | None:
    """A sentence when ``dtype`` would be emulated (several times slower) on this CPU, else None.

    Example:
        >>> slow_low_precision_warning("cpu", None) is None  # float32 is never emulated
        True
    """
    if dtype not in (torch.bfloat16, torch.float16) or resolve_device(device).type != "cpu":
        return None
    name = "bf16" if dtype == torch.bfloat16 else "fp16"
    if native_low_precision(name):
        return None
    return (f"this CPU has no native {name} (AVX-512 {name.upper()} / AMX): {name} runs emulated, "
            f"several times slower than fp32; use fp32 on this machine")


def reset_peak_memory(device: torch.device) -> bool:
    """Reset the peak counter; True when it worked (CPU: Linux ``clear_refs`` 5 resets VmHWM)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _read_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def peak_memory_bytes(device: torch.device) -> tuple[int | None, str]:
    """``(bytes, what)``: peak RSS of this process on CPU, peak allocated memory on CUDA.

    Example:
        >>> nbytes, what = peak_memory_bytes(torch.device("cpu"))
        >>> what.startswith("peak RSS"), nbytes is None or nbytes > 0
        (True, True)
    """
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "torch.cuda.max_memory_allocated"
    hwm = _read_status("VmHWM")
    if hwm is not None:
        return hwm, "peak RSS (VmHWM)"
    try:
        import resource  # POSIX only: imported here so that the package imports on Windows
    except ImportError:  # pragma: no cover - Windows
        return None, "peak RSS (not available on this platform)"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss * (1 if sys.platform == "darwin" else 1024), "peak RSS (ru_maxrss)"
