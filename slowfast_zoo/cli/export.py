"""``slowfast-zoo export NAME --format onnx|torchscript -o FILE``: deployable files, parity-checked."""

from __future__ import annotations

import argparse
import json
import os

from slowfast_zoo.errors import InputFileError, UsageError

__all__ = ["register"]


def _cmd_export(args: argparse.Namespace) -> int:
    import torch

    from slowfast_zoo.tools import export as ex
    from slowfast_zoo.factory import create_model
    from slowfast_zoo.weights.source import is_prefixed

    # Everything checkable is checked before weights are loaded or downloaded.
    if args.size is not None and args.size < 32:
        raise UsageError(f"--size must be >= 32 (the network's smallest input), got {args.size}")
    if args.opset is not None and not 7 <= args.opset <= 30:
        raise UsageError(f"--opset must be an ONNX opset in [7, 30], got {args.opset}")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError(f"-o {args.output}: the folder {out_dir} does not exist")
    if args.weights and "://" not in str(args.weights) and not os.path.isfile(args.weights):
        raise InputFileError(f"--weights {args.weights}: no such file")
    if not is_prefixed(args.name):
        from slowfast_zoo.registry import get_pretrained_cfg

        get_pretrained_cfg(args.name)  # an unknown name, with close matches
    if is_prefixed(args.name):
        if args.weights:
            raise UsageError("--weights cannot be combined with an "
                             "hf-hub:/local-dir: name (it already names the weights)")
        model = create_model(args.name)
    else:
        model = create_model(args.name, pretrained=True, checkpoint_path=args.weights,
                             progress=not args.quiet)
    model.eval()
    if args.format == "onnx":
        path = ex.export_onnx(model, args.output, size=args.size, dynamic_batch=args.dynamic_batch,
                              fp16=args.fp16, opset=args.opset, exporter=args.exporter)
    else:
        path = ex.export_torchscript(model, args.output, size=args.size,
                                     dynamic_batch=args.dynamic_batch, fp16=args.fp16)
    name = model.pretrained_cfg.name if model.pretrained_cfg is not None else args.name
    report = {"file": str(path), "format": args.format, "model": name,
              "input": list(ex.example_input(model, size=args.size, batch=1).shape),
              "dtype": "float16" if args.fp16 else "float32", "dynamic_batch": args.dynamic_batch}
    if args.format == "onnx":
        report["opset"] = args.opset or (ex.ONNX_OPSET if args.exporter == "dynamo" else ex.LEGACY_ONNX_OPSET)
    if args.check:
        dtype = torch.float16 if args.fp16 else torch.float32
        x = ex.example_input(model, size=args.size, batch=2 if args.dynamic_batch else 1, seed=1,
                             dtype=dtype)
        try:
            diff = (ex.check_onnx if args.format == "onnx" else ex.check_torchscript)(path, model, x)
        except ImportError as e:
            report["check"] = f"skipped: {e}"
        else:
            tol = ex.ONNX_ATOL if args.format == "onnx" else ex.TORCHSCRIPT_ATOL
            report["max_abs_logit_diff"] = diff
            # float16: reported, not enforced (the error scales with the logits' magnitude).
            if not args.fp16 and not diff <= tol:
                print(json.dumps(report, indent=2))
                raise SystemExit(f"slowfast-zoo export: error: exported logits differ by {diff:.3g} "
                                 f"(tolerance {tol:g})")
    print(json.dumps(report, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    p = sub.add_parser("export", help="export a model to ONNX or TorchScript (parity-checked)")
    p.add_argument("name", help="arch, arch.tag, hf-hub:ORG/REPO[@rev] or local-dir:PATH")
    p.add_argument("--format", choices=("onnx", "torchscript"), required=True, help="file format (required)")
    p.add_argument("-o", "--output", required=True, help="output file (.onnx / .pt)")
    p.add_argument("--weights", "--checkpoint", dest="weights",
                   help="local MMAction2 .pth / .safetensors file or URL (default: the published "
                        "weights; --checkpoint is an alias)")
    p.add_argument("--size", type=int, default=None,
                   help="input height = width (default: the weight's test crop, 256)")
    p.add_argument("--dynamic-batch", action="store_true", help="symbolic batch dimension")
    p.add_argument("--fp16", action="store_true", help="float16 weights and input (GPU runtimes)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18; 17 with the "
                                                            "legacy exporter)")
    p.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo",
                   help="ONNX exporter: torch.export based (default) or the legacy tracer")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the parity check against PyTorch (onnxruntime / torch.jit.load)")
    p.add_argument("--quiet", action="store_true", help="no download progress bar")
    p.set_defaults(func=_cmd_export)
