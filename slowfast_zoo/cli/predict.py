"""``slowfast-zoo predict VIDEO``: top-k Kinetics-400 labels of a video."""

from __future__ import annotations

import argparse
import json

import torch

from slowfast_zoo.factory import create_model
from slowfast_zoo.predict import predict, sample_video_path

__all__ = ["register"]

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _cmd_predict(args: argparse.Namespace) -> int:
    video = args.video or str(sample_video_path())
    model = create_model(args.model, pretrained=True, checkpoint_path=args.weights,
                         progress=not args.json)
    preds = predict(model, video, topk=args.topk, views=args.views, device=args.device,
                    views_per_batch=args.views_per_batch, dtype=_DTYPES[args.dtype])
    if args.json:
        print(json.dumps({"video": video, "model": model.pretrained_cfg.name,
                          "weights": args.weights or model.pretrained_cfg.url,
                          "views": args.views or model.pretrained_cfg.test.num_views,
                          "topk": [{"index": p.index, "label": p.label, "probability": p.probability}
                                   for p in preds]}, indent=2))
    else:
        print(f"{video}  ({model.pretrained_cfg.name})")
        for p in preds:
            print(f"  {p.probability:7.2%}  {p.label}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` subcommand."""
    p = sub.add_parser("predict", help="top-k labels of a video (the shipped sample if none given)")
    p.add_argument("video", nargs="?", help="video file (default: the sample shipped with the package)")
    p.add_argument("--model", default="slowfast_r50_4x16x1", help="arch or arch.tag")
    p.add_argument("--weights", help="local MMAction2 .pth / .safetensors file or URL "
                                     "(default: the published weights, downloaded and verified)")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--views", type=int, choices=(1, 30), default=None,
                   help="30: the weight's test protocol (default); 1: one centre clip, quick look")
    p.add_argument("--views-per-batch", type=int, default=None, help="views per forward pass")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--dtype", choices=tuple(_DTYPES), default="fp32", help="autocast dtype (GPU)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_predict)
