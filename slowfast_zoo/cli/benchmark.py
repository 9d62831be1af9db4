"""``slowfast-zoo benchmark``: inference speed (MMAction2's video/s method, its quirk fixed) and end-to-end timing."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def _check(args: argparse.Namespace) -> None:
    """Every option and end-to-end video, before the matmul probe and the model build."""
    from slowfast_zoo.data.decode import VideoReader
    from slowfast_zoo.errors import BenchmarkError
    from slowfast_zoo.inference.device import resolve_device
    from slowfast_zoo.registry import get_arch_spec, get_pretrained_cfg
    from slowfast_zoo.tools.benchmark import check_dtype
    from slowfast_zoo.tools.checks import check_at_least

    pcfg = get_pretrained_cfg(args.model)
    check_dtype(args.dtype, resolve_device(args.device), args.force)
    for option, value, least in (("--videos", args.videos, 1), ("--warmup", args.warmup, 0),
                                 ("--threads", args.threads, 1), ("--views-per-batch", args.views_per_batch, 1),
                                 ("--views", args.views, 1), ("--matmul-size", args.matmul_size, 1),
                                 ("--size", args.size, 32)):
        check_at_least(value, option, least)
    tau = get_arch_spec(pcfg.name).tau
    if args.clip_len is not None and args.clip_len < tau:
        raise BenchmarkError(f"--clip-len must be >= {tau} ({pcfg.architecture}'s tau), got {args.clip_len}")
    for video in args.end_to_end or ():
        VideoReader(video).num_frames  # noqa: B018 - missing or unreadable: now, not after the timing


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from slowfast_zoo.tools.benchmark import BenchmarkConfig, benchmark, format_report
    from slowfast_zoo.tools.printing import json_text

    _check(args)
    cfg = BenchmarkConfig(
        model=args.model, device=args.device, dtype=args.dtype, channels_last=args.channels_last,
        fuse=args.fuse, compile=args.compile, views_per_batch=args.views_per_batch,
        threads=args.threads, videos=args.videos, warmup=args.warmup, size=args.size,
        views=args.views, clip_len=args.clip_len, end_to_end=tuple(args.end_to_end or ()),
        matmul_size=args.matmul_size, force=args.force)
    result = benchmark(cfg)
    print(json_text(result, indent=2) if args.json else format_report(result))
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The benchmark options (shared with benchmarks/bench_model.py)."""
    p.add_argument("--model", default="slowfast_r50_4x16x1", help="weight name, arch or arch.tag (default: slowfast_r50_4x16x1)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="compute dtype (bf16/fp16 via autocast; refused on CPUs without native support)")
    p.add_argument("--force", action="store_true", help="run bf16/fp16 on a CPU without native support")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                   help="channels_last_3d memory format (default: on)")
    p.add_argument("--fuse", action=argparse.BooleanOptionalAction, default=True,
                   help="fold BatchNorm into convs (default: on)")
    p.add_argument("--compile", action="store_true", help="torch.compile the backbone")
    p.add_argument("--views-per-batch", type=int, default=None,
                   help="views per forward pass (default: 1 on CPU, 10 on GPU)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--videos", type=int, default=5, help="timed videos, the median reported (default: 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up videos (default: 1)")
    p.add_argument("--size", type=int, default=None, help="input H = W (default: the weight's 256)")
    p.add_argument("--views", type=int, default=None, help="views per video (default: the weight's 30)")
    p.add_argument("--clip-len", type=int, default=None, help="frames per view (default: 32)")
    p.add_argument("--end-to-end", nargs="+", metavar="VIDEO",
                   help="also time video files -> scores (decode + transform + model + averaging)")
    p.add_argument("--matmul-size", type=int, default=2048, help="n of the n^3 matmul peak probe (default: 2048)")
    p.add_argument("--json", action="store_true", help="print every field as JSON")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``benchmark`` subcommand."""
    p = sub.add_parser("benchmark", help="measure inference speed (video/s, GFLOP/s, memory)",
                       description="MMAction2's model-only benchmark method (random weights, batch 1 video "
                                   "of the weight's 30 test views, warm-up excluded, median; the "
                                   "quirk of MMAction2's tools/analysis/benchmark.py, which adds the "
                                   "last video's time twice, fixed), plus per-view "
                                   "latency, GFLOP/s vs the measured matmul peak, peak memory and "
                                   "an optional end-to-end mode from video files.")
    add_arguments(p)
    p.set_defaults(func=_cmd_benchmark)
