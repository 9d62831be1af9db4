"""Reduced-precision numerics: bf16 / fp16 autocast against MMAction2's golden logits.

For every architecture, the golden weights (the reference generator in ``tests/weightgen.py``)
are loaded through the library's inference path (``prepare_model``: BatchNorm folded,
channels_last_3d; ``run_views(dtype=...)``: autocast) and compared with the float32 logits
MMAction2 itself produced (``tests/data/reference``): max abs error, the error relative to the
largest logit, top-1 agreement and top-5 overlap. ``--extra-views N`` adds N random 64x64 views
per architecture, scored against our own float32 output (itself golden-verified to 1e-4), for a
larger top-1 sample.

    python benchmarks/precision_parity.py --device cpu --threads 2 [--archs r50_4x16x1] [--json]
    python benchmarks/precision_parity.py --device cuda --extra-views 64

On a CPU without native bf16/fp16 (AVX-512 BF16/FP16, AMX) autocast is emulated: the numbers are
still those of bf16/fp16 rounding with float32 accumulation, but slow (tens of seconds per arch).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the reference generator and golden files live there
try:
    import slowfast_zoo as sz
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(ROOT))
    import slowfast_zoo as sz
from slowfast_zoo.tools.benchmark import machine_info
from slowfast_zoo.inference.engine import prepare_model, run_views
from slowfast_zoo.weights.loader import convert_mmaction2_state_dict
from weightgen import ARCHS, generate_state_dict, golden_input, load_golden

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _compare(got: torch.Tensor, want: torch.Tensor) -> dict:
    err = (got - want).abs().max().item()
    top5 = [len(set(a.topk(5).indices.tolist()) & set(b.topk(5).indices.tolist()))
            for a, b in zip(got, want)]
    return {
        "views": int(want.shape[0]),
        "max_abs_err": err,
        "max_rel_err": err / want.abs().max().item(),
        "top1_agreement": (got.argmax(1) == want.argmax(1)).float().mean().item(),
        "top5_overlap_mean": statistics.mean(top5) / 5,
    }


def run(arch: str, dtype_name: str, device: torch.device, extra_views: int) -> dict:
    golden = load_golden(arch)
    model = sz.create_model(f"slowfast_{arch}").eval()
    model.load_state_dict(convert_mmaction2_state_dict(generate_state_dict(arch), model, source=arch))
    model = prepare_model(model, device=device)
    dtype = _DTYPES[dtype_name]
    start = time.perf_counter()
    got = run_views(model, golden_input(golden), dtype=dtype)
    row = {"arch": arch, "dtype": dtype_name,
           "golden": _compare(got, torch.tensor(golden["logits"]))}
    if extra_views:
        views = torch.randn(extra_views, 3, 32, 64, 64, generator=torch.Generator().manual_seed(0))
        ref = run_views(model, views)  # float32, same fused model
        row["extra"] = _compare(run_views(model, views, dtype=dtype), ref)
    row["seconds"] = time.perf_counter() - start
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtypes", nargs="+", choices=sorted(_DTYPES), default=["bf16", "fp16"])
    p.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    p.add_argument("--extra-views", type=int, default=0, help="random views scored vs our fp32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = [run(a, d, device, args.extra_views) for a in args.archs for d in args.dtypes]
    machine = machine_info(device)
    if args.json:
        print(json.dumps({"machine": machine, "rows": rows}, indent=2))
        return 0
    print(f"device {device} ({machine.get('gpu') or machine['cpu']})")
    print(f"{'arch':18} {'dtype':5} {'vs golden: max abs':>19} {'rel':>8} {'top-1':>6} {'top-5':>6}"
          f"   {'vs fp32 (extra): top-1':>22} {'rel':>8}  time")
    for r in rows:
        g, e = r["golden"], r.get("extra")
        extra = f"{e['top1_agreement']:>22.3f} {e['max_rel_err']:>8.1e}" if e else f"{'-':>22} {'-':>8}"
        print(f"{r['arch']:18} {r['dtype']:5} {g['max_abs_err']:>19.2e} {g['max_rel_err']:>8.1e} "
              f"{g['top1_agreement']:>6.2f} {g['top5_overlap_mean']:>6.2f}   {extra}  "
              f"{r['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
