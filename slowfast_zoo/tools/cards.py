"""MODEL_CARDS.md, generated from the registry: ``python -m slowfast_zoo.tools.cards [--check]``.

Every number comes from :data:`slowfast_zoo.registry.PRETRAINED` (every SlowFast recognition
checkpoint MMAction2 published, 0.x and 1.x, docs/SPEC.md sections 1 and 9; MMAction2 is
Apache-2.0, https://github.com/open-mmlab/mmaction2)
and :data:`slowfast_zoo.registry.ARCHS`; nothing is typed twice. ``--check`` exits with 1 when
the file differs from what the registry gives (CI runs it via tests/test_tools_cards.py).

Example:
    >>> from slowfast_zoo.tools.cards import render
    >>> render().startswith("# Model cards")
    True
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from slowfast_zoo._io import atomic_write_text
from slowfast_zoo.registry import ARCHS, PRETRAINED, PretrainedCfg, get_arch_spec

__all__ = ["render", "render_card", "reproduce_command", "main"]

#: Where MMAction2's configs expect each test set (``ann_file_val`` / ``data_root_val``).
_DATA = {
    ("Kinetics-400", "rawframes"): ("data/kinetics400/kinetics400_val_list_rawframes.txt",
                                    "data/kinetics400/rawframes_val"),
    ("Kinetics-400", "videos"): ("data/kinetics400/kinetics400_val_list_videos.txt",
                                 "data/kinetics400/videos_val"),
    ("Something-Something V1", "rawframes"): ("data/sthv1/sthv1_val_list_rawframes.txt",
                                              "data/sthv1/rawframes"),
}

#: The groups of MODEL_CARDS.md, in order: (title, what the group holds, record filter).
_GROUPS = (
    ("MMAction2 0.x: the Kinetics-400 table",
     "The 8 rows of the 0.x README's Kinetics-400 table (v0.13.0-v0.16.0), mmcv checkpoints.",
     lambda c: c.mmaction2 == "0.x" and c.tag in ("k400_256p", "k400_320p", "k400_video")),
    ("MMAction2 0.x: later README rows",
     "Rows the 0.x README gained after the table (2021): the re-trained 320p, Precise-BN, step-LR "
     "and multigrid files, and Something-Something V1.",
     lambda c: c.mmaction2 == "0.x" and c.tag not in ("k400_256p", "k400_320p", "k400_video")),
    ("MMAction2 1.x",
     "The MMAction2 1.x zoo: mmengine checkpoints, trained and tested on videos (decord), test "
     "clips placed by the 1.x SampleFrames rule (docs/SPEC.md section 9).",
     lambda c: c.mmaction2 == "1.x"),
)


def _data_format(cfg: PretrainedCfg) -> str:
    return "video" if cfg.train_data == "videos" else "rawframes"


def reproduce_command(cfg: PretrainedCfg, *, gpus: int = 1, cli: bool = False) -> str:
    """The command that re-measures ``cfg``'s published number on a Kinetics-400 copy.

    Example:
        >>> print(reproduce_command(PRETRAINED["slowfast_r50_4x16x1.k400_video"], cli=True))
        slowfast-zoo eval --model slowfast_r50_4x16x1.k400_video \\
            --ann-file data/kinetics400/kinetics400_val_list_videos.txt \\
            --data-root data/kinetics400/videos_val --data-format video \\
            --out slowfast_r50_4x16x1.k400_video.json
    """
    ann, root = _DATA[(cfg.dataset, cfg.train_data)]
    if gpus > 1:
        prog = f"torchrun --nproc_per_node {gpus} " + ("-m slowfast_zoo eval" if cli else "examples/eval_k400.py")
    else:
        prog = "slowfast-zoo eval" if cli else "python examples/eval_k400.py"
    return (f"{prog} --model {cfg.name} \\\n    --ann-file {ann} \\\n    --data-root {root} "
            f"--data-format {_data_format(cfg)} \\\n    --out {cfg.name}.json")


def _protocol_text(cfg: PretrainedCfg) -> str:
    p = cfg.test
    crop = f"ThreeCrop({p.crop_size})" if p.num_crops == 3 else f"CenterCrop({p.crop_size})"
    first = p.filename_tmpl.format(1)
    decode = ("DecordDecode in MMAction2, PyAV here; frames counted from 0" if cfg.train_data == "videos"
              else f"RawFrameDecode of {first}...; frames counted from 1")
    norm = " (1.x: in the model's data preprocessor, same numbers)" if cfg.mmaction2 == "1.x" else ""
    mean = ", ".join(f"{v:g}" for v in cfg.mean)
    std = ", ".join(f"{v:g}" for v in cfg.std)
    return (f"`SampleFrames(clip_len={p.clip_len}, frame_interval={p.frame_interval}, "
            f"num_clips={p.num_clips}, test_mode=True)` ({p.sampling_rule} rule) -> decode ({decode}) -> "
            f"`Resize((-1, {p.resize_short_side}))` -> `{crop}` -> `Normalize(mean=[{mean}], std=[{std}], "
            f"RGB)`{norm} -> `FormatShape('NCTHW')`: {p.num_views} view{'s' if p.num_views > 1 else ''} "
            f"of 3x{p.clip_len}x{p.crop_size}x{p.crop_size} per video, `average_clips='{p.average_clips}'` "
            f"(softmax per view, mean over views), metrics top-1 / top-5 accuracy over the "
            f"{cfg.dataset} validation list")


def _arch_text(cfg: PretrainedCfg) -> str:
    s = get_arch_spec(cfg.name)
    norm = " followed by BatchNorm + ReLU (lateral_norm)" if s.lateral_norm else ""
    return (f"`{cfg.architecture}`: slow ResNet-{s.slow_depth}, fast ResNet-{s.fast_depth}, "
            f"{s.num_frames}-frame input, tau {s.tau}, alpha {s.alpha}, channel ratio "
            f"{s.channel_ratio}, lateral temporal kernel {s.fusion_kernel}{norm}, "
            f"{cfg.num_classes} classes")


def render_card(cfg: PretrainedCfg) -> str:
    """The Markdown section of one weight."""
    speed = ("not published" if cfg.inference_speed_video_per_s is None
             else f"{cfg.inference_speed_video_per_s:g} video/s (MMAction2's tools/analysis/benchmark.py, "
                  f"30 views per video, GPU not stated)")
    data = "videos" if cfg.train_data == "videos" else "rawframes"
    memory = ("not published" if cfg.gpu_memory_mb is None
              else f"{cfg.gpu_memory_mb} MB (the README's column; training peak per GPU, presumably)")
    names = ("" if cfg.class_names[0] != "class_0"
             else "; MMAction2 ships no class names: `class_0` ... (pass `--label-map FILE`)")
    rows = [
        ("Architecture", _arch_text(cfg)),
        ("Parameters", f"{cfg.num_params:,}"),
        ("GFLOPs per view (ours)", f"{cfg.gflops:.3f} (one 3x{get_arch_spec(cfg.name).num_frames}x256x256 "
                                   "view; convolutions and the "
                                   "classifier, 2 FLOPs per multiply-add; measured with "
                                   "torch.utils.flop_counter)"),
        ("Published top-1 / top-5", f"{cfg.top1:.2f} / {cfg.top5:.2f} %"),
        ("Published inference speed", speed),
        ("Published GPU memory", memory),
        ("Trained / tested on", f"{cfg.dataset} {data} ({cfg.train_resolution}); trained on "
                                f"{cfg.train_gpus} GPUs{names}"),
        ("Test protocol", _protocol_text(cfg)),
        ("Source config", f"`{cfg.source_config}` (MMAction2 {cfg.mmaction2}, "
                          f"{'mmengine' if cfg.mmaction2 == '1.x' else 'mmcv'} checkpoint)"),
        ("Weights", f"<{cfg.url}>" + "".join(f" (or <{u}>)" for u in cfg.alternative_urls)),
        ("sha256 prefix", f"`{cfg.sha256_prefix}` (checked after download)"),
        ("License", cfg.license),
    ]
    lines = [f"### {cfg.name}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "Reproduce the published number (one GPU, or eight with the same result):", "",
              "```bash", reproduce_command(cfg), reproduce_command(cfg, gpus=8, cli=True), "```", ""]
    if cfg.notes:
        lines += [f"Notes: {cfg.notes}", ""]
    lines += ["<details><summary>Citation</summary>", "", "```bibtex", cfg.citation.rstrip(), "```", "",
              "</details>", ""]
    return "\n".join(lines)


def render() -> str:
    """The whole MODEL_CARDS.md text."""
    head = [
        "# Model cards",
        "",
        "<!-- Generated by `python -m slowfast_zoo.tools.cards` from slowfast_zoo/registry; do not edit. -->",
        "",
        f"The {len(PRETRAINED)} SlowFast recognition weights published by MMAction2, both "
        f"generations (0.x and 1.x), on {len(ARCHS)} architectures. Load one with "
        "`slowfast_zoo.create_model(NAME, pretrained=True)`; measure it on your copy of its dataset "
        "with the command in its card (`--limit 100` for a quick look, `--resume` after an "
        "interruption, `torchrun` for many GPUs). Accuracies are MMAction2's published numbers, each "
        "with its weight's own test protocol; parameters and GFLOPs are measured from our modules.",
        "",
    ]
    body = []
    for title, about, keep in _GROUPS:
        group = [cfg for cfg in PRETRAINED.values() if keep(cfg)]
        head += [f"**{title}.** {about}", "",
                 "| weight | dataset | params | GFLOPs/view | top-1 | top-5 | video/s | GPU mem (MB) "
                 "| sha256 prefix |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for cfg in group:
            speed = "-" if cfg.inference_speed_video_per_s is None else f"{cfg.inference_speed_video_per_s:g}"
            memory = "-" if cfg.gpu_memory_mb is None else str(cfg.gpu_memory_mb)
            head.append(f"| [{cfg.name}](#{cfg.name.replace('.', '')}) | {cfg.dataset} "
                        f"| {cfg.num_params / 1e6:.2f} M | {cfg.gflops:.1f} | {cfg.top1:.2f} | {cfg.top5:.2f} "
                        f"| {speed} | {memory} | `{cfg.sha256_prefix}` |")
        head.append("")
        body += [f"## {title}", "", about, ""] + [render_card(cfg) for cfg in group]
    return "\n".join(head) + "\n" + "\n".join(body)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m slowfast_zoo.tools.cards [--output MODEL_CARDS.md] [--check]``."""
    parser = argparse.ArgumentParser(prog="python -m slowfast_zoo.tools.cards", description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="MODEL_CARDS.md", help="file to write or check (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    args = parser.parse_args(argv)
    text = render()
    out = Path(args.output)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else None
        if current != text:
            print(f"{out} is out of date: run `python -m slowfast_zoo.tools.cards --output {out}`", file=sys.stderr)
            return 1
        print(f"{out} is up to date")
        return 0

    atomic_write_text(out, text)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
