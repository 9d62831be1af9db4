"""The house rules: one mechanism per concern, no import circle, files written with ordinary modes,
every registry record complete, freezing as model state, the view-reading path."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest
import torch

import slowfast_zoo as sz
from slowfast_zoo import errors
from slowfast_zoo._io import atomic_dir, atomic_write, atomic_write_text
from slowfast_zoo.registry import ARCHS, PRETRAINED, get_arch_spec
from slowfast_zoo.registry.records import PYSF_SAMPLING_RULES

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "slowfast_zoo"
DATA = Path(__file__).resolve().parent / "data"


# ----------------------------------------------------------------------------- imports
def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """slowfast_zoo modules imported anywhere in the file (deferred imports included)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            subs = {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known}
            found |= subs
            if len(subs) < len(node.names):  # names defined in the package itself
                found.add(base)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(path, name, set(mods)) for name, path in mods.items()}


def test_no_import_circle_even_through_deferred_imports():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if n == "slowfast_zoo":
                continue  # checked below: nothing imports the root package
            if state.get(n) == 1:
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_no_circle_between_subpackages():
    graph = _graph()

    def top(m: str) -> str:
        parts = m.split(".")
        return parts[1] if len(parts) > 1 else ""

    pkgs: dict[str, set[str]] = {}
    for m, deps in graph.items():
        if top(m) in ("", "cli") or m.count(".") == 1 and (PKG / f"{top(m)}.py").exists():
            continue  # the root, the CLI and the top-level modules sit above everything
        pkgs.setdefault(top(m), set()).update(top(d) for d in deps if top(d) not in ("", top(m)))
    for a, deps in pkgs.items():
        for b in deps:
            assert a not in pkgs.get(b, set()), f"subpackages {a} and {b} import each other"


def test_nothing_imports_the_root_package_and_registry_is_a_leaf():
    graph = _graph()
    offenders = sorted(m for m, deps in graph.items() if "slowfast_zoo" in deps)
    assert offenders == []
    for m, deps in graph.items():
        if m.startswith("slowfast_zoo.registry"):
            assert all(d.startswith("slowfast_zoo.registry") or d == "slowfast_zoo.errors"
                       for d in deps), (m, deps)


def test_temp_files_created_in_one_module_and_version_written_once():
    creators = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if any(f in text for f in ("mkstemp", "mkdtemp", "TemporaryDirectory", "NamedTemporaryFile")):
            creators.append(name)
    assert creators == ["slowfast_zoo._io"]
    versions = [name for name, path in _modules().items()
                if "__version__ = " in path.read_text(encoding="utf-8")]
    assert versions == ["slowfast_zoo._version"]
    assert 'version = "' not in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_no_module_over_500_lines():
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k > 500} == {}


def test_public_functions_are_fully_annotated():
    missing = []
    for name, path in _modules().items():

        def visit(node: ast.AST, owner: str) -> None:
            for n in node.body:
                if isinstance(n, ast.ClassDef) and not n.name.startswith("_"):
                    visit(n, f"{owner}{n.name}.")
                elif isinstance(n, ast.FunctionDef) and (not n.name.startswith("_") or n.name == "__init__"):
                    args = [a for a in n.args.args + n.args.kwonlyargs if a.arg not in ("self", "cls")]
                    args += [a for a in (n.args.vararg, n.args.kwarg) if a is not None]
                    if any(a.annotation is None for a in args) or (n.returns is None and n.name != "__init__"):
                        missing.append(f"{name}.{owner}{n.name}")

        visit(ast.parse(path.read_text(encoding="utf-8")), "")
    assert missing == []


def test_every_spec_reference_resolves_in_the_repository():
    spec = (ROOT / "docs" / "SPEC.md").read_text(encoding="utf-8")
    headings = {line.split()[1].rstrip(".") for line in spec.splitlines()
                if line.startswith("#") and len(line.split()) > 1}
    import re

    for path in list(PKG.rglob("*.py")) + [ROOT / "README.md"]:
        for m in re.finditer(r"SPEC\.md (?:sections? )?(\d+(?:\.\d+)?)", path.read_text(encoding="utf-8")):
            assert m[1] in headings, f"{path}: docs/SPEC.md section {m[1]} does not exist"


def test_every_exception_class_lives_in_errors_and_derives_from_the_base():
    for name, path in _modules().items():
        if name == "slowfast_zoo.errors":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                assert not any(b.endswith(("Error", "Exception")) for b in bases), (name, node.name)
    for n in errors.__all__:
        assert issubclass(getattr(errors, n), errors.SlowFastZooError)
    assert issubclass(errors.AnnotationError, ValueError)
    assert issubclass(errors.InputFileError, FileNotFoundError)
    assert issubclass(errors.FrameIndexError, IndexError)


# ----------------------------------------------------------------------------- file modes
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _no_partials(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".partial")]


def test_atomic_helpers_write_ordinary_modes_and_clean_up(tmp_path, umask_022):
    f = atomic_write_text(tmp_path / "a" / "x.json", "{}")
    assert f.read_text() == "{}" and _mode(f) == 0o644
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.bin", lambda tmp: (Path(tmp).write_bytes(b"half"), 1 / 0 if False
                                                      else (_ for _ in ()).throw(RuntimeError("boom"))))
    assert not (tmp_path / "b.bin").exists() and _no_partials(tmp_path) == []
    with atomic_dir(tmp_path / "d") as d:
        (d / "f.txt").write_text("x")
    assert _mode(tmp_path / "d") == 0o755 and _mode(tmp_path / "d" / "f.txt") == 0o644
    with pytest.raises(FileExistsError):
        with atomic_dir(tmp_path / "d"):
            pass
    with pytest.raises(KeyError):
        with atomic_dir(tmp_path / "d", replace=True) as d:
            (d / "g.txt").write_text("y")
            raise KeyError("stop")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f.txt"]  # untouched
    assert _no_partials(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a", "d"]


@pytest.fixture(scope="module")
def small_model():
    return sz.create_model("slowfast_r50_4x16x1", num_classes=3)


@pytest.mark.slow
def test_fine_tune_checkpoints_features_and_saved_models_are_0644(tmp_path, umask_022, small_model):
    from slowfast_zoo.inference.features import ClipFeatures
    from slowfast_zoo.training.checkpoints import save_training_state, save_weights

    w = save_weights(small_model, tmp_path / "run" / "latest.safetensors", class_names=["a", "b", "c"])
    s = save_training_state({"epoch": 1, "x": torch.zeros(2)}, tmp_path / "run" / "state.pt")
    feats = ClipFeatures(torch.zeros(2, 2304), torch.zeros(2, 2, dtype=torch.float64),
                         torch.zeros(2, 32, dtype=torch.int64), 25.0)
    f = feats.save(tmp_path / "feats" / "v.mp4.safetensors", model="m")
    d = sz.save_pretrained(small_model, tmp_path / "saved", class_names=["a", "b", "c"])
    for p in (w, s, f, *(d / n for n in ("config.json", "model.safetensors", "README.md"))):
        assert _mode(p) == 0o644, p
    assert _mode(d) == 0o755
    assert _no_partials(tmp_path) == []


@pytest.mark.slow
def test_cache_downloads_and_eval_results_are_0644(tmp_path, umask_022, http_server):
    from weightgen import generate_state_dict, write_mmaction2_checkpoint

    from slowfast_zoo.evaluation.results import ResultWriter
    from slowfast_zoo.weights import get_cache_dir

    www = http_server.root / "modes"
    www.mkdir(exist_ok=True)
    pth = write_mmaction2_checkpoint(generate_state_dict("r50_4x16x1"), www, "slowfast_modes")
    url = f"{http_server.base_url}/modes/{pth.name}"
    sz.create_model("slowfast_r50_4x16x1", pretrained=True, checkpoint_path=url)
    cached = sorted(get_cache_dir().iterdir())
    assert [p.name for p in cached] == sorted([pth.name, pth.name[:-4] + ".slowfast_zoo.safetensors"])
    assert all(_mode(p) == 0o644 for p in cached)
    writer = ResultWriter(tmp_path / "out" / "results.json", header={"model": {}, "protocol": {}})
    writer.flush()
    assert _mode(writer.path) == 0o644
    writer.finish([], metrics={}, counts={}, selection=[])
    assert _mode(tmp_path / "out" / "results.json") == 0o644


# ----------------------------------------------------------------------------- registry schema
_REQUIRED_TEXT = ("name", "architecture", "tag", "url", "file_name", "source_config",
                  "train_data", "train_gpus", "license", "citation")


@pytest.mark.parametrize("name", sorted(PRETRAINED))
def test_schema_of_every_registry_record(name):
    cfg = PRETRAINED[name]
    for key in _REQUIRED_TEXT:
        assert isinstance(getattr(cfg, key), str) and getattr(cfg, key), key
    assert cfg.name == f"{cfg.architecture}.{cfg.tag}" and cfg.architecture in ARCHS
    urls = (cfg.url, *cfg.alternative_urls)
    assert isinstance(cfg.sha256_prefix, str) and cfg.url.endswith("/" + cfg.file_name)
    # Per source: MMAction2's files carry 8 hex of their sha256 in the name (an alternative URL
    # may carry another date); the PyTorchVideo / PySlowFast files on dl.fbaipublicfiles.com
    # carry none (trust on first use, or a full sha256 once recorded) and keep their name.
    if cfg.test.family == "mmaction2":
        assert all(u.startswith("https://download.openmmlab.com/mmaction/") for u in urls)
        assert len(cfg.sha256_prefix) == 8
        assert all(u.endswith(f"-{cfg.sha256_prefix}.pth") for u in urls)
        assert cfg.mmaction2 in ("0.x", "1.x") and cfg.test.sampling_rule == cfg.mmaction2
    else:
        assert all(u.startswith(("https://dl.fbaipublicfiles.com/pytorchvideo/",
                                 "https://dl.fbaipublicfiles.com/pyslowfast/")) for u in urls)
        assert all(u.endswith("/" + cfg.file_name) for u in urls)
        assert cfg.sha256_prefix == "" and cfg.file_name.endswith((".pyth", ".pkl")) and cfg.mmaction2 == ""
        assert cfg.test.family in ("ptv", "psf") and cfg.test.sampling_rule in PYSF_SAMPLING_RULES
    assert cfg.sha256 is None or (len(cfg.sha256) == 64 and cfg.sha256.startswith(cfg.sha256_prefix))
    assert cfg.file_size is None or cfg.file_size > 0
    assert cfg.key_family in ("mmaction2", "pytorchvideo", "pyslowfast", "caffe2")
    if cfg.mean_ap is None:  # accuracy (%), or mean average precision for multi-label Charades
        assert cfg.top1 is not None and cfg.top5 is not None and 0 < cfg.top1 <= cfg.top5 <= 100
    else:
        assert cfg.top1 is None and cfg.top5 is None and 0 < cfg.mean_ap <= 100
    assert len(cfg.class_names) == cfg.num_classes and len(set(cfg.class_names)) == cfg.num_classes
    assert cfg.num_params > 0 and cfg.gflops > 0 and cfg.train_resolution and cfg.dataset
    assert len(cfg.mean) == len(cfg.std) == 3 and all(s > 0 for s in cfg.std)
    assert cfg.test.num_views == cfg.test.num_clips * cfg.test.num_crops and cfg.test.num_crops in (1, 3)
    assert cfg.test.average_clips in ("prob", "score") and 0 <= cfg.test.crop_index <= 2
    assert cfg.test.score_activation in ("softmax", "sigmoid") and cfg.test.view_combination in ("mean", "max")
    assert cfg.data_start_index in (0, 1) and cfg.fusion_kernel == get_arch_spec(name).fusion_kernel
    json.dumps(cfg.to_dict())  # JSON-friendly
    spec = ARCHS[cfg.architecture]
    assert f"{spec.name}.{spec.default_tag}" in PRETRAINED
    for f in dataclasses.fields(spec):
        # Only a detector has a RoI head (ArchSpec.roi); a detector's weight has its protocol.
        if f.name != "roi":
            assert getattr(spec, f.name) is not None, f.name
    assert (spec.roi is None) == (cfg.detection is None)


# ----------------------------------------------------------------------------- model state
def test_freezing_is_model_state_that_survives_a_deepcopy(small_model):
    from slowfast_zoo.training.freezing import configure_finetune

    model = copy.deepcopy(small_model)
    configure_finetune(model, freeze_stages=2, norm_eval=True)
    clone = copy.deepcopy(model)
    for m in (model, clone):
        m.train()
        assert not m.slow.stages[1].training and m.slow.stages[2].training
        assert all(not b.training for b in m.modules() if isinstance(b, torch.nn.BatchNorm3d))
        assert m.fc.training and not m.laterals[1].weight.requires_grad
    # The copy's train() acts on the copy's modules only: the original is untouched.
    model.eval()
    clone.train()
    assert not model.fc.training and clone.fc.training
    assert "train" not in vars(model)  # no patched method


def test_class_names_are_declared_on_the_model(small_model):
    model = copy.deepcopy(small_model)
    assert model.class_names == ("class_0", "class_1", "class_2")
    model.class_names = ["a", "b", "c"]
    assert model.class_names == ("a", "b", "c") and model.hub_source is None
    with pytest.raises(ValueError, match="2 class names"):
        model.class_names = ["a", "b"]
    model.reset_classifier(5)
    assert model.class_names[0] == "class_0"


# ----------------------------------------------------------------------------- view 17
def test_view_frames_answers_which_frames_and_crop_make_a_view():
    cases = json.loads((DATA / "pipeline_cases_public.json").read_text())
    tf = sz.data.test_transform("slowfast_r50_4x16x1")
    case = next(c for c in cases["sample_frames_test"] if c["num_clips"] == 10 and c["clip_len"] == 32
                and c["frame_interval"] == 2 and c["start_index"] == 0 and c["total_frames"] > 64)
    crops = next(c for c in cases["resize_and_crop"] if c["scale"] == [-1, 256])
    golden = torch.tensor(case["frame_inds"]).view(10, 32)
    for view in (0, 17, 29):
        crop, clip = divmod(view, 10)
        idx, box = tf.view_frames(case["total_frames"], view, tuple(crops["input_hw"]))
        assert idx.tolist() == golden[clip].tolist()
        assert list(box) == crops["crops"]["256"]["three_crop_ltrb"][crop]
    with pytest.raises(ValueError, match="view"):
        tf.view_frames(100, 30, (240, 320))


def test_view_frames_matches_what_load_returns(tmp_path):
    from pipeline_reference import format_ncthw, normalize
    from video_factory import make_video

    tf = sz.data.TestTransform(clip_len=4, frame_interval=2, num_clips=2, resize_short_side=48,
                               crop_size=48, num_crops=3)
    with torch.no_grad():
        path = str(make_video(tmp_path / "v.mp4", num_frames=20, width=64, height=48))
        views = tf.load(path)
        reader = sz.data.VideoReader(path)
        for view in range(tf.num_views):
            idx, box = tf.view_frames(reader.num_frames, view, (48, 64))
            frames = reader.read(idx)
            resized = sz.data.resize(frames, sz.data.rescale_size((48, 64), 48))
            left, top, right, bottom = box
            expected = normalize(resized[:, top:bottom, left:right], tf.mean, tf.std)
            torch.testing.assert_close(views[view], format_ncthw(expected, 1, 4)[0], rtol=0, atol=1e-5)


def test_lazy_package_attributes_stay_functions_after_their_module_is_imported() -> None:
    # A lazily exported name must not share its module's name: importing the module would
    # replace the package attribute (the function) with the module.
    import importlib

    import slowfast_zoo.evaluation as ev

    for name, module in ev._LAZY.items():
        importlib.import_module(f"slowfast_zoo.evaluation.{module}")
        assert not isinstance(getattr(ev, name), type(ev)), name


@pytest.mark.slow
def test_import_is_light_and_works_without_posix_only_modules():
    """`import slowfast_zoo` loads no PyAV, at most 20 of its modules, and works where `resource`
    and `fcntl` do not exist (Windows); the lazy names then resolve."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['resource'] = None; sys.modules['fcntl'] = None  # import of either now fails\n"
        "import slowfast_zoo as sz\n"
        "mods = sorted(m for m in sys.modules if m == 'slowfast_zoo' or m.startswith('slowfast_zoo.'))\n"
        "assert 'av' not in sys.modules, 'PyAV imported'\n"
        "assert len(mods) <= 20, mods\n"
        "assert callable(sz.create_model) and callable(sz.predict) and sz.SlowFast.__name__ == 'SlowFast'\n"
        "m = sz.create_model('slowfast_r50_4x16x1', num_classes=3)\n"
        "from slowfast_zoo.inference.device import peak_memory_bytes\n"
        "print(len(mods))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) <= 20


def test_no_deprecated_alias_modules():
    for old in ("windows", "features", "hub", "export", "benchmark", "cards", "training_utils",
                "progress", "_compat"):
        assert not (PKG / f"{old}.py").exists(), old
    assert not (PKG / "registry" / "specs.py").exists() and not (PKG / "weights" / "load.py").exists()
    assert (PKG / "tools" / "__init__.py").exists()


def test_no_bare_builtin_raise_in_the_package():
    """Every failure a user can cause is a SlowFastZooError subclass (errors.py)."""
    import re

    bare = re.compile(r"raise (ValueError|TypeError|RuntimeError|KeyError|IndexError|LookupError|OSError|"
                      r"IOError|FileNotFoundError|FileExistsError|PermissionError|NotADirectoryError|"
                      r"IsADirectoryError|Exception)\b")
    found = [f"{p.relative_to(ROOT)}:{i}" for p in PKG.rglob("*.py")
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if bare.search(line)]
    assert found == []
