"""The GPU check: one command that runs, on a CUDA machine and within a time budget, everything in the course that
needs a GPU, and leaves its results in one small output folder (what a lent GPU machine can hand back).

    python3 course.py gpu-check [--out DIR] [--budget SECONDS] [--data-root DIR] [--only STEPS] [--rehearse]
    python3 course.py gpu-check --gather    # on a developer machine: the wheels and data the GPU machine lacks
    (`python -m course_utils.tools.gpu_check ...` is the same command inside the course environment)

Steps, most important first; each is estimated before it starts and skipped, with the reason in the log and in
`summary.json`, when it would not fit in what is left of the budget:

1. `probe` — fit's CUDA paths on a few real steps (bf16 autocast, channels_last, cudnn.benchmark on during training
   and put back after, the fused optimiser), a bf16 matrix product, and the measured short steps that scale every
   later estimate (fit steps of ResNet18 — SmallCNN in the rehearsal —, the classic DataLoader's seconds per image).
2. `nb01` ... `nb07` — every notebook in full mode (`COURSE_QUICK=0`), its data read from the check's data folder
   (`COURSE_DATA_DIR`); the executed copies go into `notebooks.tar.gz`.
3. `bench` — `python -m course_utils.tools.bench --full --dataset fashion-mnist --models all --epochs E --out
   RESULTS.md`: the classic loop vs `fit`, time to accuracy and % of the bf16 peak. E is 3, or 2 when 3 would not fit;
   the course's five networks alone when neither fits. Earlier steps leave room for its smallest form.
4. `ref-gpu-idle`, `ref-shortcuts`, `ref-degradation`, `ref-zoo` — the reference experiments' GPU variants
   (`python -m course_utils.reference EXPERIMENT --device cuda --seeds N --out DIR --data-root DIR`), 3 seeds or
   fewer to fit; "skipped: not available" when that module is not installed.

Every step but the probe runs in a child process that is killed when its share of the budget runs out. Estimates
come from a table for the device (`PROFILES`, counted from FLOPs for an H200); the benchmark's are computed from the
networks' FLOPs and the probe's measured steps; as steps finish, all later estimates are scaled by how far the
finished ones were off (the median of measured / estimated).

Data: `--data-root` (or `$COURSE_DATA_DIR`, or `.gpudata/` from `--gather`) is searched for both datasets; what is
found is decompressed into one data folder that every step reads. MNIST falls back to the bundled 5,000-image mini
MNIST (the full MNIST is not available offline), Fashion-MNIST likewise; the log and the summary say which each used.

The output folder (`--out`, default `build/gpu-check`) receives at most 8 files of at most 16 MiB each (the device
tool's limits): `summary.json`, `report.md`, `gpu-check.log`, `RESULTS.md` (benchmarks/RESULTS.md with the new
section), `notebooks.tar.gz`, `reference.tar.gz`. Sizes are checked at the end; what had to be dropped is listed.

`--rehearse` runs the same code on the CPU at tiny size (a data folder of 256 training and 256 test images of each
dataset, cut from the bundled mini sets): the probe, one notebook in full mode (`--only` picks others), the
benchmark on two networks for one epoch, the reference experiments with `--smoke`, the budget logic, the bundling
and the size checks — every code path but CUDA itself, in about a minute.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]
_STARTED = time.monotonic()  # the budget counts from here: the process's start, imports included
DEFAULT_BUDGET = 540.0  # seconds: the device tool stops a command at 600 s; the wheel install comes first
REHEARSAL_BUDGET = 150.0
MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES = 8, 16 * 2**20, 64 * 2**20  # what the device tool hands back
REFERENCE_MODULE = "course_utils.reference"
REFERENCE_EXPERIMENTS = ("gpu-idle", "shortcuts", "degradation", "zoo")  # GPU-specific first
REHEARSAL_IMAGES = 256  # training and test images per dataset in the rehearsal's data folder
REHEARSAL_NOTEBOOKS = ("03",)  # the rehearsal's default: one notebook in full mode (all seven take ~6 minutes here)
SMALL_NETS = ("small_cnn", "inception", "simple_resnet")
KILL_MARGIN_S = 6.0  # ending a child that overran (SIGTERM, then SIGKILL after 5 s) takes up to this
NAME_OK = re.compile(r"^[A-Za-z0-9._-]+$")  # file names the device tool hands back


@dataclass(frozen=True)
class Profile:
    """Estimated seconds of the check's steps on one kind of device, before the probe's measurements scale them."""

    name: str
    notebooks: dict[str, float]  # seconds per notebook ("01": ...) in full mode, kernel start included
    notebook_default_s: float  # a notebook not in the table
    reference_fixed_s: float  # process start and data of one reference experiment
    reference_per_seed_s: dict[str, float]  # seconds per seed of each experiment
    start_s: float  # a child process: Python, torch, the device and the dataset
    batch: int  # fit's batch on this device
    course_step_s: float  # floor of one fit step (launches, Python), ResNet18-sized
    classic_step_s: float  # floor of one classic step (batch 64, loss.item() every step)
    classic_image_s: float  # the classic DataLoader's seconds per image (the probe measures it)
    bf16_flops: float  # FLOP/s fit reaches on a mid-sized network
    fp32_flops: float  # FLOP/s the classic loop reaches (float32; TF32 convolutions on CUDA)
    model_fixed_s: float  # per benchmarked network: build, FLOP count, warm-up steps, cudnn autotuning
    final_reserve_s: float  # kept for bundling and the summary
    probe_model: str  # the probe's timed fit steps: network (registry key), batch, and the seconds one should
    probe_batch: int  # take; measured / expected scales `course_step_s` in the benchmark's estimate
    probe_step_s: float


# H200: FLOPs of each step over ~250 TFLOP/s for fit and ~40 for the classic loop, floors of ~1.5 ms per fit step and
# ~1 ms per classic step (kernel launches), ~70 us per image for the classic loader on the host, ~7 s per kernel start.
# Rehearsal: measured on the idle 2-core CPU of the development machine, 256 images per dataset.
PROFILES = {
    "h200": Profile(
        name="h200", notebooks={"01": 20, "02": 20, "03": 20, "04": 25, "05": 80, "06": 60, "07": 40},
        notebook_default_s=30, reference_fixed_s=10,
        reference_per_seed_s={"gpu-idle": 5, "shortcuts": 8, "degradation": 12, "zoo": 10}, start_s=10, batch=512,
        course_step_s=1.5e-3, classic_step_s=1.0e-3, classic_image_s=70e-6, bf16_flops=250e12, fp32_flops=40e12,
        model_fixed_s=4, final_reserve_s=15, probe_model="resnet18",
        probe_batch=512, probe_step_s=1.5e-3,
    ),
    "cpu-rehearsal": Profile(
        name="cpu-rehearsal", notebooks={"01": 18, "02": 120, "03": 25, "04": 150, "05": 200, "06": 150, "07": 45},
        notebook_default_s=15, reference_fixed_s=5,
        reference_per_seed_s={"gpu-idle": 2.0, "shortcuts": 4.0, "degradation": 3.0, "zoo": 3.0},
        start_s=5, batch=128, course_step_s=5e-3, classic_step_s=3e-3, classic_image_s=130e-6, bf16_flops=60e9,
        fp32_flops=40e9, model_fixed_s=1.5, final_reserve_s=5, probe_model="small_cnn", probe_batch=64,
        probe_step_s=0.02,
    ),
}  # fmt: skip


# ---------------------------------------------------------------------------------------------- budget logic
@dataclass
class Variant:
    """One way to run a step (the benchmark at 3 or 2 epochs, an experiment with 3 seeds or 1) and its estimate."""

    label: str
    estimate_s: float
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """One unit of the check: its variants (best first) and what runs one. A `protected` step's cheapest variant is
    kept room for while the steps before it run."""

    name: str
    kind: str  # "notebook", "bench", "reference"
    variants: list[Variant]
    run: Callable[[Check, Step, Variant, float], Record] = field(repr=False)
    protected: bool = False
    skip_reason: str = ""  # set: skipped without running (not selected, not available)

    @property
    def cheapest_s(self) -> float:
        """The smallest estimate of its variants."""
        return min(v.estimate_s for v in self.variants)


@dataclass
class Record:
    """What happened to one step: for `summary.json` and the report."""

    name: str
    kind: str
    status: str  # "ok", "failed", "timeout" or "skipped"
    variant: str = ""
    estimate_s: float = 0.0
    seconds: float = 0.0
    note: str = ""
    data: str = ""  # which data it read
    details: dict[str, Any] = field(default_factory=dict)


class Budget:
    """The time budget: what is left, what later protected steps need, and the scale of the estimates (the median of
    measured / estimated over the probe and the finished steps, kept within 0.5..3)."""

    def __init__(self, seconds: float, reserve_s: float, clock: Callable[[], float] = time.monotonic,
                 start: float | None = None) -> None:  # fmt: skip
        self.seconds, self.reserve_s, self.clock = seconds, reserve_s, clock
        self.start = clock() if start is None else start
        self.ratios: list[float] = []

    @property
    def elapsed(self) -> float:
        """Seconds since the check started."""
        return self.clock() - self.start

    @property
    def scale(self) -> float:
        """Factor applied to every estimate."""
        return min(3.0, max(0.5, statistics.median(self.ratios))) if self.ratios else 1.0

    def learn(self, estimate_s: float, seconds: float) -> None:
        """Fold a finished step's measured / estimated seconds into the scale (steps under 3 s say little; a step
        stopped at its time limit counts with the seconds it had, a lower bound)."""
        if estimate_s >= 3 and seconds > 0:
            self.ratios.append(seconds / estimate_s)

    def available(self, later: Sequence[Step]) -> float:
        """Seconds a step may use now: the rest of the budget less the final reserve and the cheapest variant of
        every later protected step."""
        keep = sum(s.cheapest_s * self.scale + KILL_MARGIN_S for s in later if s.protected and not s.skip_reason)
        return self.seconds - self.elapsed - self.reserve_s - keep

    def choose(self, step: Step, available: float) -> Variant | None:
        """The first (best) variant whose scaled estimate fits in `available`, or None."""
        return next((v for v in step.variants if v.estimate_s * self.scale <= available), None)


# ---------------------------------------------------------------------------------------------- the log
class Log:
    """Timestamped lines into the log file and onto stdout; a child's output is copied in as it comes."""

    def __init__(self, path: Path, start: float, stream: TextIO = sys.stdout) -> None:
        self.path, self.start, self.stream = path, start, stream
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.lock = threading.Lock()

    def __call__(self, message: str) -> None:
        stamp = f"[{time.monotonic() - self.start:6.1f} s] "
        self.write("".join(stamp + line + "\n" for line in message.splitlines() or [""]))

    def write(self, text: str) -> None:
        """Append raw text (a child's output) to the file and stdout."""
        with self.lock:
            self.file.write(text)
            self.file.flush()
            self.stream.write(text)
            self.stream.flush()

    def close(self) -> None:
        """Close the file."""
        self.file.close()


def run_child(cmd: Sequence[str], env: dict[str, str], timeout: float, log: Log) -> tuple[int | None, str, float]:
    """Run `cmd` from the repository root in a process group of its own, copying its output into the log; when
    `timeout` seconds pass, end the group (SIGTERM, then SIGKILL). Returns (exit status or None when ended, output,
    seconds)."""
    log("$ " + shlex.join(str(c) for c in cmd))
    start = time.monotonic()
    proc = subprocess.Popen(list(cmd), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1, start_new_session=True)  # fmt: skip
    ended = threading.Event()

    def end_group() -> None:
        ended.set()
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    timer = threading.Timer(max(1.0, timeout), end_group)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            log.write("    | " + line)
        rc = proc.wait()
    finally:
        timer.cancel()
    return (None if ended.is_set() else rc), "".join(lines), time.monotonic() - start


# ---------------------------------------------------------------------------------------------- the check
@dataclass
class Check:
    """Everything one run of the check knows: options, folders, device, data, budget, log and the records."""

    rehearse: bool
    out: Path
    work: Path
    budget: Budget
    log: Log
    profile: Profile
    device: str  # "cuda" or "cpu"
    data_root: Path | None = None  # the prepared data folder every step reads
    data: dict[str, dict[str, Any]] = field(default_factory=dict)  # per dataset: source text, image counts
    probe: dict[str, Any] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    seeds: int | None = None
    bench_epochs: int | None = None
    reference_module: str = REFERENCE_MODULE
    notebooks: list[Path] = field(default_factory=list)

    def child_env(self, **extra: str) -> dict[str, str]:
        """The environment of a child: the data folder, the course on the path, unbuffered output, and on a rehearsal
        no GPU at all."""
        env = dict(os.environ)
        env.update({"COURSE_DATA_DIR": str(self.data_root), "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"})
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        if self.rehearse:
            env["CUDA_VISIBLE_DEVICES"] = ""
        env.update(extra)
        return env


def prepare_data(check: Check, source: Path | None) -> None:
    """Fill `<work>/data/<ClassName>/raw/` with the four decompressed files of MNIST and Fashion-MNIST and record where
    each came from. Rehearsal: the first 256 training and test images of the bundled mini sets."""
    from course_utils.data import DataUnavailableError, load_dataset
    from course_utils.data.files import BUNDLED, DATA_DIR_ENV
    from course_utils.data.specs import DATASETS, FILES

    target = check.work / "data"
    for name, spec in DATASETS.items():
        raw = target / spec.class_name / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        if check.rehearse:
            n = REHEARSAL_IMAGES
            for file in FILES:
                with gzip.open(BUNDLED / spec.mini_folder / f"{file}.gz", "rb") as f:
                    blob = f.read()
                header = 16 if "images" in file else 8
                per_item = 28 * 28 if "images" in file else 1
                (raw / file).write_bytes(blob[:4] + n.to_bytes(4, "big") + blob[8:header] + blob[header : header + n * per_item])
            check.data[name] = {"source": f"tiny {spec.human}: the first {n} training and {n} test images of the bundled "
                                          f"mini {spec.human} (rehearsal)", "train": n, "test": n}  # fmt: skip
            continue
        saved = os.environ.get(DATA_DIR_ENV)
        os.environ[DATA_DIR_ENV] = str(check.work / "cache")  # decompress into the work folder, nowhere else
        try:
            try:
                if source is None:
                    raise DataUnavailableError("no data folder given")
                split = load_dataset(name, quick=False, root=source)
            except DataUnavailableError as exc:
                split = load_dataset(name, quick=True)
                check.log(f"data: the full {spec.human} is not in {source}: using the bundled mini {spec.human} "
                          f"({str(exc).splitlines()[0]})")  # fmt: skip
        finally:
            if saved is None:
                os.environ.pop(DATA_DIR_ENV, None)
            else:
                os.environ[DATA_DIR_ENV] = saved
        for file in FILES:
            shutil.copyfile(split.root / spec.class_name / "raw" / file, raw / file)
        check.data[name] = {"source": split.source, "train": len(split.train_labels), "test": len(split.test_labels)}
    check.data_root = target
    for name, info in check.data.items():
        check.log(f"data: {name}: {info['train']:,} training / {info['test']:,} test images — {info['source']}")
    check.log(f"data: every step reads {target} (COURSE_DATA_DIR)")


def data_text(check: Check, *names: str) -> str:
    """'MNIST 5,000/10,000 (bundled mini MNIST); ...' for the datasets a step reads."""
    out = []
    for name in names:
        info = check.data.get(name, {})
        out.append(f"{name} {info.get('train', 0):,}/{info.get('test', 0):,} ({info.get('source', '?')})")
    return "; ".join(out)


# ---------------------------------------------------------------------------------------------- probe
def run_probe(check: Check) -> dict[str, Any]:
    """fit's device paths on a few real steps, a matrix product, and the short steps the estimates scale with."""
    import torch

    from course_utils.classic import CLASSIC_BATCH
    from course_utils.data import classic_loaders, make_loaders
    from course_utils.models import REGISTRY
    from course_utils.optim import make_optimizer
    from course_utils.precision import default_amp
    from course_utils.runtime import device_name, sync
    from course_utils.train import fit

    dev = torch.device(check.device)
    info: dict[str, Any] = {"device": device_name(dev), "torch": torch.__version__, "python": sys.version.split()[0]}
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), capability=f"{props.major}.{props.minor}",
                    memory_gib=round(props.total_memory / 2**30, 1), sms=props.multi_processor_count)  # fmt: skip
    for name in ("nbclient", "ipykernel", "nbformat", "torchsummary", "torchvision"):
        info.setdefault("packages", {})[name] = _version(name)

    # 1. fit's paths: what the training step actually ran with, seen from inside the model
    seen: dict[str, Any] = {}

    def hook(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if module.training and "dtype" not in seen:
            seen.update(dtype=str(output.dtype).replace("torch.", ""), cudnn_benchmark=torch.backends.cudnn.benchmark,
                        channels_last=inputs[0].is_contiguous(memory_format=torch.channels_last))  # fmt: skip

    from course_utils.data import load_dataset

    available = len(load_dataset("fashion-mnist", quick=False, root=check.data_root).train_labels)
    loaders = make_loaders("fashion-mnist", quick=False, root=check.data_root, device=dev,
                           train_size=min(4 * 128, available), seed=0)  # fmt: skip
    model = REGISTRY["small_cnn"].build()
    handle = model.register_forward_hook(hook)
    before = torch.backends.cudnn.benchmark
    history = fit(model, loaders.train, None, epochs=1, max_steps=3, device=dev, progress=False)
    handle.remove()
    fused = bool(make_optimizer(model, "adamw", 1e-3, 0.0, 0.9, dev).defaults.get("fused"))
    cuda = dev.type == "cuda"
    amp = default_amp(dev, model)
    checks = {
        "bf16 autocast in the step": (seen.get("dtype") == "bfloat16", amp),
        "channels_last input": (seen.get("channels_last"), True),
        "cudnn.benchmark during fit": (seen.get("cudnn_benchmark"), cuda),
        "cudnn.benchmark put back after fit": (torch.backends.cudnn.benchmark == before, True),
        "fused AdamW": (fused, cuda),
        "History.settings agree": (history.settings["amp"] == amp and history.settings["channels_last"], True),
    }
    info["fit_paths"] = {k: {"seen": bool(v[0]), "expected": v[1], "ok": bool(v[0]) == v[1]} for k, v in checks.items()}
    info["fit_paths_ok"] = all(v["ok"] for v in info["fit_paths"].values())

    # 2. a matrix product (bf16 on CUDA) for the achieved peak
    n = 8192 if cuda else 512
    a, b = (torch.randn(n, n, device=dev, dtype=torch.bfloat16 if cuda else torch.float32) for _ in range(2))
    for _ in range(3):
        a @ b
    sync(dev)
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    sync(dev)
    info["matmul_tflops"] = round(10 * 2 * n**3 / (time.perf_counter() - start) / 1e12, 3)
    info["matmul"] = f"{n}x{n}x{n} {'bf16' if cuda else 'float32'}, random inputs, mean of 10 after 3 warm-ups"
    del a, b

    # 3. the measured short steps: fit steps (ResNet18 on CUDA), and the classic loader's seconds per image
    entry = REGISTRY[check.profile.probe_model]
    steps = 20 if cuda else 2
    batch = check.profile.probe_batch
    data = make_loaders("fashion-mnist", batch, quick=False, root=check.data_root, device=dev, pad=entry.pad,
                        train_size=min(batch * (steps + 2), available), seed=0)  # fmt: skip
    model = entry.build()
    fit(model, data.train, None, epochs=1, max_steps=2, device=dev, progress=False)  # warm-up, cudnn autotuning
    timed = fit(model, data.train, None, epochs=1, max_steps=steps, device=dev, progress=False)
    info["fit_step_s"] = timed.seconds[0] / steps
    info["fit_step"] = f"{entry.title}, batch {batch}, mean of {steps} steps after 2 warm-up steps"
    train_dl, _ = classic_loaders(data.split, batch_size=CLASSIC_BATCH, pad=entry.pad)
    start, count = time.perf_counter(), 0
    for _, y in train_dl:
        count += len(y)
        if count >= 1024:
            break
    info["classic_image_s"] = (time.perf_counter() - start) / count
    del model, data, loaders
    if cuda:
        torch.cuda.empty_cache()
    return info


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------------------------- steps
def notebook_key(path: Path) -> str:
    """'05' for notebooks/05_resnet18_shortcuts.ipynb; the file's stem for any other notebook."""
    return path.name[:2] if re.match(r"^\d\d_", path.name) else path.stem


def run_notebook(check: Check, step: Step, variant: Variant, timeout: float) -> Record:
    """Execute one notebook in full mode in a child process (killed at `timeout`); keep the executed copy."""
    path: Path = variant.options["path"]
    dst = check.work / "executed" / path.name
    env = check.child_env(COURSE_QUICK="0", MPLBACKEND="module://matplotlib_inline.backend_inline")
    cmd = [sys.executable, "-m", "course_utils.tools.gpu_check", "--execute-notebook", str(path), str(dst)]
    rc, output, seconds = run_child(cmd, env, timeout, check.log)
    result = next((json.loads(line[7:]) for line in reversed(output.splitlines()) if line.startswith("RESULT ")), None)
    data = notebook_data(dst) if dst.exists() else ""
    if rc is None:
        return Record(step.name, step.kind, "timeout", variant.label, note=f"stopped after {timeout:.0f} s", data=data)
    if result is None:
        return Record(step.name, step.kind, "failed", variant.label, note=f"exit status {rc}: {output.strip()[-300:]}", data=data)
    status = "ok" if result["ok"] else "failed"
    note = result["headline"] if result["ok"] else result["error"]
    return Record(step.name, step.kind, status, variant.label, note=note, data=data,
                  details={"notebook_seconds": round(result["seconds"], 1), "headline": result["headline"]})  # fmt: skip


def notebook_data(path: Path) -> str:
    """The dataset lines ('mnist train/test ...') the notebook's run-info cell printed."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "run_info(" in cell.source:
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            return "; ".join(" ".join(line.split()) for line in text.splitlines() if "train/test" in line)
    return ""


def execute_notebook(src: Path, dst: Path) -> int:
    """The child side of `run_notebook`: execute `src` into `dst` and print one RESULT line of JSON."""
    from course_utils.tools.notebooks import execute

    result = execute(src, out=dst)
    print("RESULT " + json.dumps({"ok": result.ok, "seconds": result.seconds, "headline": result.headline,
                                  "error": result.error}), flush=True)  # fmt: skip
    return 0


def bench_variants(check: Check) -> list[Variant]:
    """The benchmark's forms, best first, each with its estimate (FLOPs of the networks and the probe's measures)."""
    from course_utils.models import REGISTRY

    if check.rehearse:
        options = [("small_cnn,resnet18", check.bench_epochs or 1)]
    elif check.bench_epochs:
        options = [("all", check.bench_epochs), ("course", check.bench_epochs)]
    else:
        options = [("all", 3), ("all", 2), ("course", 2)]
    fashion = check.data.get("fashion-mnist", {})
    n_train, n_test = fashion.get("train", 60_000), fashion.get("test", 10_000)
    variants = []
    for models, epochs in options:
        keys = list(REGISTRY) if models == "all" else [k for k, e in REGISTRY.items() if not e.zoo] if models == "course" else models.split(",")
        estimate = bench_estimate(check, keys, epochs, n_train, n_test)
        variants.append(Variant(f"--models {models} --epochs {epochs}", estimate, {"models": models, "epochs": epochs}))
    return variants


_FLOPS: dict[str, float] = {}


def forward_flops(key: str) -> float:
    """Forward FLOPs of one image through registered network `key` (counted on the meta device: no memory, no time)."""
    if key not in _FLOPS:
        from course_utils.measure import count_flops
        from course_utils.models import REGISTRY

        entry = REGISTRY[key]
        _FLOPS[key] = float(count_flops(entry.build(device="meta"), entry.shape()))
    return _FLOPS[key]


def bench_estimate(check: Check, keys: Sequence[str], epochs: int, n_train: int, n_test: int) -> float:
    """Seconds of the benchmark: per network and epoch, the classic loop (loader, steps, evaluation) and fit (steps at
    the device's batch, evaluation), with per-network set-up; loader and step times from the probe where measured."""
    p = check.profile
    image_s = check.probe.get("classic_image_s", p.classic_image_s)
    step_scale = min(4.0, max(0.25, check.probe.get("fit_step_s", p.probe_step_s) / p.probe_step_s))
    total = p.start_s
    for key in keys:
        train = 3 * forward_flops(key)  # forward + backward
        classic = (n_train + n_test) * image_s + math.ceil(n_train / 64) * max(p.classic_step_s, train * 64 / p.fp32_flops)
        course = math.ceil(n_train / p.batch) * max(p.course_step_s * step_scale, train * p.batch / p.bf16_flops)
        course += n_test * forward_flops(key) / p.bf16_flops
        total += p.model_fixed_s + epochs * (classic + course)
    return total


def run_bench(check: Check, step: Step, variant: Variant, timeout: float) -> Record:
    """The benchmark CLI in a child process, writing its section into the output folder's copy of RESULTS.md."""
    results = check.work / "RESULTS.md"
    if not results.exists():
        shutil.copyfile(ROOT / "benchmarks" / "RESULTS.md", results)
    cmd = [sys.executable, "-m", "course_utils.tools.bench", "--full", "--dataset", "fashion-mnist", "--models",
           variant.options["models"], "--epochs", str(variant.options["epochs"]), "--data-root", str(check.data_root),
           "--out", str(results)]  # fmt: skip
    if check.rehearse:
        cmd += ["--device", "cpu", "--warmup-steps", "1"]
    rc, output, seconds = run_child(cmd, check.child_env(), timeout, check.log)
    data = next((m[1] for m in re.finditer(r"^device .*? mode, (.+?), \d+ epoch", output, re.M)), "")
    details = parse_bench(output)
    if rc is None:
        return Record(step.name, step.kind, "timeout", variant.label, note=f"stopped after {timeout:.0f} s", data=data)
    if rc != 0:
        return Record(step.name, step.kind, "failed", variant.label, note=f"exit status {rc}: {output.strip()[-300:]}", data=data)
    speedups = ", ".join(f"{m} {x:.1f}x" for m, x in details["speedup"].items())
    return Record(step.name, step.kind, "ok", variant.label, note=f"speed-ups: {speedups}", data=data, details=details)


def parse_bench(output: str) -> dict[str, Any]:
    """Speed-up per network, and the course loop's % of peak, TFLOP/s and time to accuracy, from the bench's output."""
    speedup = {m: float(x) for m, x in re.findall(r"^- (.+?): course loop \*\*([\d.]+)×\*\*", output, re.M)}
    course: dict[str, dict[str, str]] = {}
    header: list[str] = []
    for line in output.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "model":
            header = cells
        elif header and len(cells) == len(header) and not set(cells[0]) <= set("-: "):
            row = dict(zip(header, cells))
            if row.get("loop", "").startswith("course"):
                course[row["model"]] = row
    return {"speedup": speedup, "course_rows": course}


def reference_variants(check: Check, experiment: str) -> list[Variant]:
    """An experiment with 3, 2 or 1 seeds (or the seeds asked for; 2 in the rehearsal's --smoke), each estimated."""
    p = check.profile
    choices = [check.seeds] if check.seeds else ([2] if check.rehearse else [3, 2, 1])
    return [Variant(f"--seeds {s}", p.reference_fixed_s + s * p.reference_per_seed_s[experiment], {"seeds": s})
            for s in choices]  # fmt: skip


def run_reference(check: Check, step: Step, variant: Variant, timeout: float) -> Record:
    """One reference experiment in a child process, its files into the work folder's reference/."""
    experiment = step.name.removeprefix("ref-")
    folder = check.work / "reference"
    folder.mkdir(exist_ok=True)
    before = {p.name for p in folder.iterdir()}
    cmd = [sys.executable, "-m", check.reference_module, experiment, "--device", check.device, "--seeds",
           str(variant.options["seeds"]), "--out", str(folder), "--data-root", str(check.data_root)]  # fmt: skip
    if check.rehearse:
        cmd.append("--smoke")
    rc, output, seconds = run_child(cmd, check.child_env(), timeout, check.log)
    files = sorted({p.name for p in folder.iterdir()} - before)
    data = ("smoke sizes (bundled mini sets)" if check.rehearse
            else f"--data-root {check.data_root}: " + data_text(check, "fashion-mnist", "mnist"))  # fmt: skip
    if rc is None:
        return Record(step.name, step.kind, "timeout", variant.label, note=f"stopped after {timeout:.0f} s", data=data)
    status = "ok" if rc == 0 and files else "failed"
    note = f"wrote {', '.join(files)}" if files else f"exit status {rc}, no file: {output.strip()[-300:]}"
    return Record(step.name, step.kind, status, variant.label, note=note, data=data, details={"files": files})


def plan(check: Check, only: set[str] | None) -> list[Step]:
    """Every step in priority order; those not selected or not available carry their skip reason."""
    steps: list[Step] = []
    p = check.profile
    for path in check.notebooks:
        key = notebook_key(path)
        estimate = p.notebooks.get(key, p.notebook_default_s)
        steps.append(Step(f"nb{key}" if key.isdigit() else key, "notebook", [Variant("full mode", estimate, {"path": path})],
                          run_notebook))  # fmt: skip
    steps.append(Step("bench", "bench", bench_variants(check), run_bench, protected=True))
    available = importlib.util.find_spec(check.reference_module) is not None
    for experiment in REFERENCE_EXPERIMENTS:
        step = Step(f"ref-{experiment}", "reference", reference_variants(check, experiment), run_reference)
        if not available:
            step.skip_reason = f"skipped: not available ({check.reference_module} is not installed)"
        steps.append(step)
    for step in steps:
        if only is not None and not ({step.name, step.kind, step.kind + "s"} & only) and not step.skip_reason:
            step.skip_reason = "skipped: not selected" + (" (the rehearsal runs " + ", ".join(sorted(only)) + ")" if check.rehearse else "")
    return steps


def run_steps(check: Check, steps: list[Step]) -> None:
    """Run the steps in order within the budget, recording each (skipped ones with the reason)."""
    for i, step in enumerate(steps):
        if step.skip_reason:
            check.records.append(Record(step.name, step.kind, "skipped", note=step.skip_reason))
            check.log(f"{step.name}: {step.skip_reason}")
            continue
        available = check.budget.available(steps[i + 1 :])
        variant = check.budget.choose(step, available)
        if variant is None:
            cheapest = step.cheapest_s * check.budget.scale
            note = f"skipped: would take ~{cheapest:.0f} s, {max(0.0, available):.0f} s left for it"
            check.records.append(Record(step.name, step.kind, "skipped", estimate_s=round(cheapest, 1), note=note))
            check.log(f"{step.name}: {note}")
            continue
        estimate = variant.estimate_s * check.budget.scale
        check.log(f"{step.name}: start ({variant.label}; estimate {estimate:.0f} s, {available:.0f} s available)")
        start = check.budget.clock()
        try:
            record = step.run(check, step, variant, max(1.0, available - KILL_MARGIN_S))
        except Exception as exc:  # noqa: BLE001 - one step's crash must not lose the others
            record = Record(step.name, step.kind, "failed", variant.label, note=f"{type(exc).__name__}: {exc}")
        record.seconds = round(check.budget.clock() - start, 1)
        record.estimate_s = round(estimate, 1)
        check.budget.learn(variant.estimate_s, record.seconds)
        check.records.append(record)
        check.log(f"{step.name}: {record.status} in {record.seconds:.1f} s (estimated {estimate:.0f} s) — {record.note}")


# ---------------------------------------------------------------------------------------------- targets, output
def targets(check: Check) -> list[dict[str, Any]]:
    """The issue's targets with what this run measured (met: None where not measured, or on a rehearsal)."""
    from course_utils.models import REGISTRY

    on_gpu = check.device == "cuda"
    bench = next((r for r in check.records if r.kind == "bench" and r.status == "ok"), None)
    speedup = bench.details["speedup"] if bench else {}
    rows = bench.details["course_rows"] if bench else {}
    out = []
    small = {REGISTRY[k].title: speedup.get(REGISTRY[k].title) for k in SMALL_NETS}
    measured = [x for x in small.values() if x is not None]
    out.append({"target": "small nets >= 20x faster per epoch than the classic loop",
                "measured": ", ".join(f"{m} {x:.1f}x" for m, x in small.items() if x is not None) or "not measured",
                "met": (min(measured) >= 20) if on_gpu and len(measured) == len(small) else None})  # fmt: skip
    r18 = REGISTRY["resnet18"].title
    x = speedup.get(r18)
    out.append({"target": "ResNet18 >= 5x faster per epoch", "measured": f"{x:.1f}x" if x else "not measured",
                "met": (x >= 5) if on_gpu and x else None})  # fmt: skip
    peak = rows.get(r18, {}).get("% of peak", "")
    value = float(peak.split()[0]) if re.match(r"^[\d.]+ %$", peak) else None
    out.append({"target": "ResNet18 training step >= 25 % of the bf16 dense peak",
                "measured": f"{peak} ({rows.get(r18, {}).get('TFLOP/s', '?')} TFLOP/s)" if value is not None else "not measured",
                "met": (value >= 25) if on_gpu and value is not None else None})  # fmt: skip
    notebooks = [r for r in check.records if r.kind == "notebook" and re.match(r"^nb\d\d$", r.name)]
    done = [r for r in notebooks if r.status == "ok"]
    total = sum(r.details.get("notebook_seconds", r.seconds) for r in done)
    complete = len(done) == 7
    out.append({"target": "the seven notebooks in full mode in <= 5 minutes",
                "measured": f"{total:.0f} s for {len(done)} of 7 notebooks" + ("" if complete else " (incomplete)"),
                "met": (total <= 300) if on_gpu and complete else None})  # fmt: skip
    return out


def _strip_images(path: Path) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if m.startswith("image/")]:
                del out["data"][mime]
                out["data"].setdefault("text/plain", "[image dropped by gpu-check: over the 16 MiB file limit]")
    nbformat.write(nb, path)


def _tar(files: Sequence[Path], dest: Path) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        for f in files:
            tar.add(f, arcname=f.name)
    return dest


def bundle(check: Check) -> tuple[list[dict[str, Any]], list[str]]:
    """Put the results into the output folder within the device tool's limits (8 files, 16 MiB each, 64 MiB in all);
    returns the files and what was dropped."""
    dropped: list[str] = []
    executed = sorted((check.work / "executed").glob("*.ipynb"))
    if executed:
        tar = _tar(executed, check.out / "notebooks.tar.gz")
        if tar.stat().st_size > MAX_FILE_BYTES:
            for nb in sorted(executed, key=lambda p: -p.stat().st_size):
                _strip_images(nb)
                dropped.append(f"image outputs of {nb.name} (notebooks.tar.gz was over 16 MiB)")
                if _tar(executed, tar).stat().st_size <= MAX_FILE_BYTES:
                    break
    reference = sorted(p for p in (check.work / "reference").glob("*") if p.is_file()) if (check.work / "reference").exists() else []
    if reference:
        _tar(reference, check.out / "reference.tar.gz")
    if (check.work / "RESULTS.md").exists():
        shutil.copyfile(check.work / "RESULTS.md", check.out / "RESULTS.md")
    keep = ("summary.json", "report.md", "gpu-check.log")
    log = check.out / "gpu-check.log"
    if log.exists() and log.stat().st_size > MAX_FILE_BYTES:  # keep its start and its end
        blob = log.read_bytes()
        half = MAX_FILE_BYTES // 2 - 2**10
        log.write_bytes(blob[:half] + b"\n[... the middle of the log was cut: over the 16 MiB file limit ...]\n" + blob[-half:])
        dropped.append(f"the middle of gpu-check.log ({(len(blob) - 2 * half) / 2**20:.1f} MiB)")
    for path in sorted(check.out.iterdir(), key=lambda p: -p.stat().st_size):
        size = path.stat().st_size
        total = sum(p.stat().st_size for p in check.out.iterdir())
        if path.name not in keep and (size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or not NAME_OK.match(path.name)):
            dropped.append(f"{path.name} ({size / 2**20:.1f} MiB): over the device tool's limits")
            path.unlink()
    files = [{"name": p.name, "bytes": p.stat().st_size} for p in sorted(check.out.iterdir())]
    if len(files) + sum(name not in {f["name"] for f in files} for name in keep) > MAX_FILES:
        raise RuntimeError(f"more than {MAX_FILES} files in {check.out}: {[f['name'] for f in files]}")
    return files, dropped


def report(check: Check, summary: dict[str, Any]) -> str:
    """The human-readable summary: device, data, each step, the targets and the files."""
    from course_utils.tables import format_table

    lines = [f"# GPU check{' — REHEARSAL on the CPU (tiny data; not the GPU numbers)' if check.rehearse else ''}", "",
             f"- Command: `{summary['command']}`", f"- Started: {summary['started']}; wall {summary['wall_s']:.0f} s "
             f"of the {summary['budget_s']:.0f} s budget", f"- Device: {check.probe.get('device', check.device)}"]  # fmt: skip
    if "fit_paths" in check.probe:
        paths = ", ".join(f"{k}: {'yes' if v['seen'] else 'no'}{'' if v['ok'] else ' (EXPECTED ' + ('yes' if v['expected'] else 'no') + ')'}"
                          for k, v in check.probe["fit_paths"].items())  # fmt: skip
        lines.append(f"- fit's paths on this device: {paths}")
        lines.append(f"- Matrix product: {check.probe['matmul_tflops']} TFLOP/s ({check.probe['matmul']}); fit step "
                     f"{1000 * check.probe['fit_step_s']:.2f} ms ({check.probe['fit_step']}); classic loader {1e6 * check.probe['classic_image_s']:.0f} us/image")
    for name, info in check.data.items():
        lines.append(f"- Data, {name}: {info['train']:,} training / {info['test']:,} test images — {info['source']}")
    rows = [(r.name, r.status, r.variant, f"{r.estimate_s:.0f}" if r.estimate_s else "", f"{r.seconds:.1f}" if r.seconds else "",
             r.note[:110]) for r in check.records]  # fmt: skip
    lines += ["", "## Steps (in the order they ran)", "", format_table(rows, ["step", "status", "form", "est. s", "s", "note"], markdown=True)]
    data_rows = [(r.name, r.data[:150]) for r in check.records if r.data]
    if data_rows:
        lines += ["", "## Data each step read", "", format_table(data_rows, ["step", "data"], markdown=True)]
    t_rows = [(t["target"], t["measured"], {True: "met", False: "MISSED", None: "—"}[t["met"]]) for t in summary["targets"]]
    lines += ["", "## Targets" + (" (rehearsal: CPU numbers, not judged)" if check.rehearse else ""), "",
              format_table(t_rows, ["target", "measured", "verdict"], markdown=True)]  # fmt: skip
    listed = [f["name"] for f in summary["files"]]
    lines += ["", "## Files", ""] + [f"- {f['name']}: {f['bytes'] / 2**20:.2f} MiB" for f in summary["files"]]
    lines += [f"- {name}" for name in ("report.md", "summary.json") if name not in listed]
    lines += [f"- dropped: {d}" for d in summary["dropped"]] or ["- nothing dropped"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line of `python3 course.py gpu-check`."""
    p = argparse.ArgumentParser(prog="python3 course.py gpu-check", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="output folder (default: build/gpu-check, build/gpu-check-rehearsal)")
    p.add_argument("--budget", type=float, default=None,
                   help=f"seconds for the whole check (default: {DEFAULT_BUDGET:g}; rehearsal {REHEARSAL_BUDGET:g})")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder with MNIST/ and FashionMNIST/ (*-ubyte or .gz); default: $COURSE_DATA_DIR, else .gpudata/")
    p.add_argument("--rehearse", action="store_true", help="the CPU rehearsal at tiny size (every path but CUDA)")
    p.add_argument("--gather", action="store_true",
                   help="on a developer machine: put the wheels and data the GPU machine lacks into .whl/ and .gpudata/")
    p.add_argument("--only", default=None,
                   help="comma-separated steps or kinds: nb01..nb07, notebooks, bench, reference, ref-zoo, ... "
                        f"(rehearsal default: nb{', nb'.join(REHEARSAL_NOTEBOOKS)}, bench, reference)")
    p.add_argument("--notebook", type=Path, action="append", default=None,
                   help="run this notebook instead of the course's seven (repeatable)")
    p.add_argument("--seeds", type=int, default=None, help="seeds of the reference experiments (default: 3, fewer to fit)")
    p.add_argument("--bench-epochs", type=int, default=None, help="the benchmark's epochs (default: 3, or 2 to fit)")
    p.add_argument("--reference-module", default=REFERENCE_MODULE, help=argparse.SUPPRESS)  # tests: a stand-in module
    p.add_argument("--keep-work", action="store_true", help="keep the work folder (data, executed notebooks)")
    p.add_argument("--execute-notebook", nargs=2, type=Path, metavar=("SRC", "DST"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check (or the rehearsal); returns 0 when every step that ran succeeded, 1 otherwise."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if "--gather" in raw:
        from course_utils.tools.gather_gpu import main as gather

        return gather([a for a in raw if a != "--gather"])
    args = parse_args(raw)
    if args.execute_notebook:
        return execute_notebook(*args.execute_notebook)
    import torch

    if not args.rehearse and not torch.cuda.is_available():
        print("error: no CUDA device here. The GPU check needs a CUDA machine (CONTRIBUTING.md, 'Running the GPU "
              "check'); `python3 course.py gpu-check --rehearse` runs its CPU rehearsal.", file=sys.stderr)  # fmt: skip
        return 2
    budget_s = args.budget or (REHEARSAL_BUDGET if args.rehearse else DEFAULT_BUDGET)
    profile = PROFILES["cpu-rehearsal" if args.rehearse else "h200"]
    out = (args.out or ROOT / "build" / ("gpu-check-rehearsal" if args.rehearse else "gpu-check")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    ours = {"summary.json", "report.md", "gpu-check.log", "RESULTS.md", "notebooks.tar.gz", "reference.tar.gz"}
    others = [p.name for p in out.iterdir() if p.name not in ours]
    if others:
        print(f"error: {out} holds other files ({', '.join(others[:5])}): give an empty or new folder", file=sys.stderr)
        return 2
    for name in ours:
        (out / name).unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    budget = Budget(budget_s, profile.final_reserve_s, start=_STARTED)
    log = Log(work / "gpu-check.log", budget.start)
    check = Check(rehearse=args.rehearse, out=out, work=work, budget=budget, log=log, profile=profile,
                  device="cpu" if args.rehearse else "cuda", seeds=args.seeds, bench_epochs=args.bench_epochs,
                  reference_module=args.reference_module)  # fmt: skip
    from course_utils.tools.notebooks import course_notebooks

    check.notebooks = [p.resolve() for p in args.notebook] if args.notebook else course_notebooks()
    if args.only:
        only: set[str] | None = {s.strip() for s in args.only.split(",") if s.strip()}
    elif args.rehearse and not args.notebook:
        only = {f"nb{n}" for n in REHEARSAL_NOTEBOOKS} | {"bench", "reference"}
    else:
        only = None
    command = "python3 course.py gpu-check" + ("" if not raw else " " + shlex.join(raw))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if args.rehearse:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    log(f"$ {command}")
    log(f"{'REHEARSAL on the CPU' if args.rehearse else 'GPU check'}: budget {budget_s:.0f} s, output {out}, work {work}")
    if budget_s > 570 and not args.rehearse:
        log("warning: the device tool stops a command at 600 s; a budget over 570 s leaves no room for the wheel install")
    status = 1
    try:
        source = args.data_root or (Path(os.environ["COURSE_DATA_DIR"]) if os.environ.get("COURSE_DATA_DIR") else None)
        if source is None and (ROOT / ".gpudata").is_dir():
            source = ROOT / ".gpudata"
        prepare_data(check, source)
        start = time.monotonic()
        try:
            check.probe = run_probe(check)
            ratio = check.probe["fit_step_s"] / profile.probe_step_s
            note = "fit paths as expected" if check.probe["fit_paths_ok"] else "fit paths NOT as expected: " + ", ".join(
                k for k, v in check.probe["fit_paths"].items() if not v["ok"])  # fmt: skip
            check.records.append(Record("probe", "probe", "ok" if check.probe["fit_paths_ok"] else "failed", note=note,
                                        seconds=round(time.monotonic() - start, 1), data=data_text(check, "fashion-mnist"),
                                        details=check.probe))  # fmt: skip
            log(f"probe: {note}; fit step {1000 * check.probe['fit_step_s']:.2f} ms "
                f"({check.probe['fit_step']}; table {1000 * profile.probe_step_s:.2f} ms, x{ratio:.2f}), classic loader "
                f"{1e6 * check.probe['classic_image_s']:.0f} us/image, matmul {check.probe['matmul_tflops']} TFLOP/s")  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the probe failing is a finding, not the end of the check
            check.records.append(Record("probe", "probe", "failed", note=f"{type(exc).__name__}: {exc}",
                                        seconds=round(time.monotonic() - start, 1)))  # fmt: skip
            log(f"probe: FAILED {type(exc).__name__}: {exc}")
        steps = plan(check, only)
        if only is not None:
            known = {s.name for s in steps} | {s.kind for s in steps} | {s.kind + "s" for s in steps}
            unknown = sorted(only - known)
            if unknown:
                log(f"warning: --only names unknown steps {unknown}; the steps are {', '.join(s.name for s in steps)}")
        log("plan: " + ", ".join(f"{s.name} ~{s.variants[0].estimate_s * budget.scale:.0f} s" for s in steps if not s.skip_reason))
        run_steps(check, steps)
        status = 0 if all(r.status in ("ok", "skipped") for r in check.records) else 1
    finally:
        summary = {"command": command, "rehearsal": args.rehearse, "started": started, "budget_s": budget_s,
                   "wall_s": round(budget.elapsed, 1), "device": check.probe.get("device", check.device), "data": check.data,
                   "probe": check.probe, "scale": round(budget.scale, 3), "steps": [asdict(r) for r in check.records]}  # fmt: skip
        summary["targets"] = targets(check)
        summary["skipped"] = [r.name for r in check.records if r.status == "skipped"]
        log(f"bundling into {out}")
        log.close()
        shutil.copyfile(work / "gpu-check.log", out / "gpu-check.log")
        files, dropped = bundle(check)
        summary.update(files=files, dropped=dropped, exit_status=status, wall_s=round(budget.elapsed, 1))
        text = report(check, summary)
        (out / "report.md").write_text(text)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        summary["files"] = [{"name": p.name, "bytes": p.stat().st_size} for p in sorted(out.iterdir())]
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        print("\n" + report(check, summary), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
