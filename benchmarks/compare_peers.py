"""Our SlowFast R50s against PyTorchVideo's (and MMAction2's) own models, same input, alternating runs.

PyTorchVideo is a peer, never a dependency: ``pip install pytorchvideo==0.1.5`` into the
benchmark environment. Both sides get random weights and the same normalized input
``[B, 3, 32, S, S]`` (PyTorchVideo as its ``[slow, fast]`` list, built by the same frame
selection); each round times every variant once, in order, and the medians and per-round
ratios (peer time / our time, > 1 = we are faster) are reported.

    python benchmarks/compare_peers.py --rounds 5 --threads 2 [--batch 1 3] [--json]

Models: MMAction2's ``slowfast_r50_4x16x1`` / ``slowfast_r50_8x8x1`` (peers: PyTorchVideo's
``create_slowfast`` with their tau/alpha/fusion kernel and a global head, MMAction2's own) and
PySlowFast's ``pysf_slowfast_r50_8x8`` / ``pysf_slowfast_r50_4x16`` (peer: PyTorchVideo's
``create_slowfast`` exactly as its hub builds that network: lateral BN, the fully-convolutional
head pooling 7x7, so 2x2 positions at 256 px, slow clip by ``linspace``).

Variants: ``ours`` = the library default (``prepare_model``: BatchNorm folded,
channels_last_3d), ``ours-eager`` (``--with-eager``) = plain eval model,
``ptv`` = PyTorchVideo's ``create_slowfast`` as its documentation builds it (eval, contiguous),
``mmaction2`` = MMAction2 1.2.0's own backbone and head (eval, contiguous; when installed, see
:func:`build_mmaction2`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

try:
    import slowfast_zoo as sz
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    import slowfast_zoo as sz
from slowfast_zoo.tools.benchmark import load_average, machine_info, matmul_peak_gflops
from slowfast_zoo.inference.engine import prepare_model
from slowfast_zoo.registry import ARCHS, get_pretrained_cfg

# (tau, alpha, fusion kernel) per MMAction2 config: slow frames = 32 / tau, fast = 32.
_ARCHS = ("slowfast_r50_4x16x1", "slowfast_r50_8x8x1", "pysf_slowfast_r50_8x8", "pysf_slowfast_r50_4x16")


def _import_ptv():
    import torchvision

    # pytorchvideo 0.1.5 imports a module torchvision renamed (only its transforms need it).
    ft = getattr(torchvision.transforms, "_functional_tensor", None)
    if ft is not None:
        sys.modules.setdefault("torchvision.transforms.functional_tensor", ft)
    from pytorchvideo.models.slowfast import create_slowfast

    return create_slowfast


def build_ptv(arch: str, size: int, clip_len: int = 32) -> torch.nn.Module:
    """PyTorchVideo's SlowFast R50 with the same tau/alpha/fusion kernel and input size as ``arch``."""
    spec = ARCHS[arch]
    create_slowfast = _import_ptv()
    slow_t = clip_len // spec.tau
    s = size // 32
    # MMAction2's networks: a global head at this size; PySlowFast's: its own trained head kernels.
    head = spec.head_pool or ((slow_t, s, s), (clip_len, s, s))
    model = create_slowfast(
        model_depth=50, model_num_class=400,
        slowfast_fusion_conv_kernel_size=(spec.fusion_kernel, 1, 1),
        slowfast_fusion_conv_stride=(spec.alpha, 1, 1),
        head_pool_kernel_sizes=head,
    )
    return model.eval()


def build_mmaction2(arch: str) -> torch.nn.Module | None:
    """MMAction2 1.2.0's own ``ResNet3dSlowFast`` + ``SlowFastHead`` for ``arch`` (its config's
    values), or None when mmaction2 is not installed.

    Install into the benchmark environment: ``pip install --no-deps mmaction2==1.2.0
    mmengine==0.10.7 mmcv-lite==2.1.0`` plus its small pure-python dependencies (addict, yapf,
    termcolor, rich, einops, importlib_metadata). Its ``mmaction/models/localizers/drn`` module
    is missing from the wheel; a stub in ``sys.modules`` replaces it (nothing here uses it).
    """
    import types

    for name in ("mmaction.models.localizers.drn", "mmaction.models.localizers.drn.drn"):
        stub = types.ModuleType(name)
        stub.DRN = type("DRN", (torch.nn.Module,), {})
        sys.modules.setdefault(name, stub)
    try:
        from mmaction.models.backbones.resnet3d_slowfast import ResNet3dSlowFast
        from mmaction.models.heads.slowfast_head import SlowFastHead
    except ImportError:
        return None
    spec = ARCHS[arch]
    backbone = ResNet3dSlowFast(
        pretrained=None, resample_rate=spec.tau, speed_ratio=spec.alpha, channel_ratio=spec.channel_ratio,
        slow_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=True,
                          fusion_kernel=spec.fusion_kernel, conv1_kernel=(1, 7, 7), dilations=(1, 1, 1, 1),
                          conv1_stride_t=1, pool1_stride_t=1, inflate=(0, 0, 1, 1)),
        fast_pathway=dict(type="resnet3d", depth=50, pretrained=None, lateral=False,
                          base_channels=64 // spec.channel_ratio, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
                          pool1_stride_t=1))
    backbone.init_weights()
    head = SlowFastHead(in_channels=2304, num_classes=400, spatial_type="avg", dropout_ratio=0.5)

    class Recognizer(torch.nn.Module):  # what Recognizer3D.forward(mode="tensor") runs per view
        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.cls_head = backbone, head

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cls_head(self.backbone(x))

    return Recognizer().eval()


def ptv_inputs(x: torch.Tensor, arch: str) -> list[torch.Tensor]:
    """``[slow, fast]`` as our model selects them (MMAction2: strided; PySlowFast: ``linspace``)."""
    spec = ARCHS[arch]
    if spec.slow_sampling == "linspace":
        index = torch.linspace(0, x.shape[2] - 1, x.shape[2] // spec.alpha).long()
        return [x.index_select(2, index).contiguous(), x.contiguous()]
    return [x[:, :, ::spec.tau].contiguous(), x[:, :, :: spec.tau // spec.alpha].contiguous()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, nargs="+", default=[1], help="views per forward (each a variant)")
    p.add_argument("--models", nargs="+", default=list(_ARCHS), choices=_ARCHS)
    p.add_argument("--with-eager", action="store_true", help="also time our unfused eager model")
    p.add_argument("--no-mmaction2", action="store_true", help="skip MMAction2 1.2.0's own model")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    peak = matmul_peak_gflops(torch.device("cpu"))
    torch.manual_seed(0)
    variants = []  # (label, arch, batch, callable, input)
    for arch in args.models:
        ours = prepare_model(sz.create_model(arch), device="cpu")
        eager = sz.create_model(arch).eval() if args.with_eager else None
        ptv = build_ptv(arch, args.size)
        mma = build_mmaction2(arch) if not (args.no_mmaction2 or arch.startswith("pysf_")) else None
        for b in args.batch:
            x = torch.randn(b, 3, 32, args.size, args.size)
            x_cl = x.contiguous(memory_format=torch.channels_last_3d)
            xs = ptv_inputs(x, arch)
            variants.append(("ours", arch, b, lambda m=ours, v=x_cl: m(v)))
            if eager is not None:
                variants.append(("ours-eager", arch, b, lambda m=eager, v=x: m(v)))
            variants.append(("ptv", arch, b, lambda m=ptv, v=xs: m(list(v))))  # it mutates its list
            if mma is not None:
                variants.append(("mmaction2", arch, b, lambda m=mma, v=x: m(v)))
    times: dict[tuple, list[float]] = {(v[0], v[1], v[2]): [] for v in variants}
    with torch.inference_mode():
        for r in range(args.warmup + args.rounds):
            for label, arch, b, fn in variants:
                t = time.perf_counter()
                fn()
                dt = (time.perf_counter() - t) / b
                if r >= args.warmup:
                    times[(label, arch, b)].append(dt)
            if not args.json:
                print(f"round {r}{' (warm-up)' if r < args.warmup else ''}: load {load_average()}",
                      file=sys.stderr, flush=True)
    rows = []
    for (label, arch, b), ts in times.items():
        gflops = get_pretrained_cfg(arch).gflops * (args.size / 256) ** 2
        med = statistics.median(ts)
        row = {"variant": label, "model": arch, "batch": b, "per_view_s": ts, "median_per_view_s": med,
               "attained_gflops": gflops / med, "percent_of_peak": 100 * gflops / med / peak}
        if label.startswith("ours"):
            for peer_name in ("ptv", "mmaction2"):
                peer = times.get((peer_name, arch, b))
                if peer:
                    ratios = [pt / ot for pt, ot in zip(peer, ts)]
                    row[f"speedup_vs_{peer_name}_median_of_rounds"] = statistics.median(ratios)
                    row[f"speedup_vs_{peer_name}_of_medians"] = statistics.median(peer) / med
        rows.append(row)
    out = {"machine": machine_info(torch.device("cpu")), "threads": torch.get_num_threads(),
           "size": args.size, "rounds": args.rounds, "matmul_peak_gflops": peak,
           "loadavg_before": load_before, "loadavg_after": load_average(), "results": rows}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['machine']['cpu']}, {out['threads']} threads, torch {out['machine']['torch']}, "
          f"input 32x{args.size}x{args.size}, {args.rounds} rounds, matmul peak {peak:.0f} GFLOP/s, "
          f"load {load_before} -> {out['loadavg_after']}")
    print(f"{'model':22s} {'variant':11s} {'batch':>5s} {'s/view':>8s} {'GFLOP/s':>8s} {'%peak':>6s} "
          f"{'vs ptv':>7s} {'vs mma':>7s}")
    for row in rows:
        sp = row.get("speedup_vs_ptv_median_of_rounds")
        sm = row.get("speedup_vs_mmaction2_median_of_rounds")
        print(f"{row['model']:22s} {row['variant']:11s} {row['batch']:5d} {row['median_per_view_s']:8.3f} "
              f"{row['attained_gflops']:8.1f} {row['percent_of_peak']:6.1f} "
              f"{'' if sp is None else f'{sp:6.2f}x':>7s} {'' if sm is None else f'{sm:6.2f}x':>7s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
