"""``slowfast-zoo export NAME --format onnx|torchscript -o FILE``: deployable files, parity-checked."""

from __future__ import annotations

import argparse

from slowfast_zoo.tools.checks import check_model_source, check_output_file
from slowfast_zoo.tools.printing import json_text, print_error

__all__ = ["register"]


def _check(args: argparse.Namespace) -> None:
    """Every option, before any weight is loaded or downloaded."""
    from slowfast_zoo.errors import UsageError
    from slowfast_zoo.tools import export as ex

    if args.size is not None and args.size < 32:
        raise UsageError(f"--size must be >= 32 (the network's smallest input), got {args.size}")
    if args.format == "onnx":
        ex.check_onnx_opset(args.exporter, args.opset)
    elif args.opset is not None:
        raise UsageError("--opset is for --format onnx")
    check_output_file(args.output, "-o", create_parents=False)
    check_model_source(args.name, args.weights)


def _cmd_export(args: argparse.Namespace) -> int:
    import torch

    from slowfast_zoo.factory import create_model
    from slowfast_zoo.tools import export as ex
    from slowfast_zoo.weights.source import is_prefixed

    _check(args)
    if is_prefixed(args.name):
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
        report["opset"] = ex.onnx_file_opset(path)  # what the file says, not what was asked
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
                print(json_text(report, indent=2))
                print_error("slowfast-zoo export", f"exported logits differ by {diff:.3g} "
                                                   f"(tolerance {tol:g})")
                return 1
    print(json_text(report, indent=2))
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
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset (default 18; 17 with the legacy exporter; the dynamo exporter "
                        "writes 18 and newer, the legacy one 10 to 23)")
    p.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo",
                   help="ONNX exporter: torch.export based (default) or the legacy tracer")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="skip the parity check against PyTorch (onnxruntime / torch.jit.load)")
    p.add_argument("--quiet", action="store_true", help="no download progress bar")
    p.set_defaults(func=_cmd_export)
