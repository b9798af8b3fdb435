"""The benchmark CLI: the classic blog training loop against `course_utils.fit`, same device, data and epochs, and
the writer of `benchmarks/RESULTS.md`. The measuring itself is `course_utils.speed.compare_loops`.

    python3 course.py bench --quick --models small_cnn,inception,simple_resnet --epochs 3 --threshold 0.9
    python3 course.py bench --full --dataset fashion-mnist --epochs 5 [--data-root DIR] [--compile]  # GPU
    (`python -m course_utils.tools.bench ...` is the same command inside the course environment)

For every model (any key of `course_utils.models.REGISTRY`) it trains two copies of the same initial weights:

(a) the **classic loop** of the blog posts (`course_utils.classic`): a torchvision dataset with per-image
    `ToTensor`/`Normalize`, `DataLoader(batch_size=64, shuffle=True)`, fp32, `SGD(lr=0.01, momentum=0.5)`,
    `loss.item()` every step, evaluation through a `DataLoader` after each epoch;
(b) the **course loop**: `course_utils.fit` with its defaults on `course_utils.make_loaders` (device-resident data).

It prints a table with the warm-up, first-epoch and steady seconds per epoch, images/s, test accuracy after the same
epochs, the speed-up, the time to reach a test accuracy, and the achieved TFLOP/s (FLOPs of a training step counted
with `FlopCounterMode`) as a fraction of the device's peak; with `--out FILE` it also writes the table into that
markdown file (one section per device, dataset and mode; a rerun rewrites its section). Timing on CUDA and MPS
synchronises the device before reading the clock; a few untimed warm-up steps on a throwaway copy of the model come
first, and the first timed epoch is reported apart from the steady epochs.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from pathlib import Path

import torch

import course_utils as cu
from course_utils.data import DATASETS, DataUnavailableError
from course_utils.measure import device_peak
from course_utils.models import REGISTRY
from course_utils.runtime import cpu_model, device_name
from course_utils.speed import Row, compare_loops, results_table
from course_utils.train import FitConfig

DEFAULT_MODELS = "course"
ROOT = Path(__file__).resolve().parents[2]


def groups() -> dict[str, list[str]]:
    """Named groups of registry keys, read from the registry each time (a new entry joins them at once)."""
    return {
        "course": [k for k, e in REGISTRY.items() if not e.zoo],
        "zoo": [k for k, e in REGISTRY.items() if e.zoo],
        "all": list(REGISTRY),
    }


PROG = "python3 course.py bench"


def resolve_models(text: str) -> list[str]:
    """Registry keys from a comma-separated list; `course`, `zoo` and `all` name groups."""
    names: list[str] = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        if raw in groups():
            group = groups()[raw]
        elif raw in REGISTRY:
            group = [raw]
        else:
            raise ValueError(f"unknown model {raw!r}: choose from {', '.join(REGISTRY)} (or the groups course, zoo, all)")
        names += [n for n in group if n not in names]
    if not names:
        raise ValueError("no model given: pass e.g. --models small_cnn,inception")
    return names


def environment(device: torch.device) -> dict[str, str]:
    """Device, versions and (on a CPU) the load average: what a reader needs to trust or reproduce a table."""
    import torchvision

    env = {"device": device_name(device)}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["device"] += f", {props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} SMs"
        env["versions"] = (f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
                           f"driver-visible capability {props.major}.{props.minor}")  # fmt: skip
    else:
        env["device"] += f"; {cpu_model()}; {os.cpu_count()} logical cores"
    env["versions"] = ", ".join(
        x for x in (f"Python {platform.python_version()}", f"torch {torch.__version__}",
                    f"torchvision {torchvision.__version__}", f"course_utils {cu.__version__}", env.get("versions")) if x
    )  # fmt: skip
    return env


def load_text() -> str:
    """'load average a, b, c on N cores' (Linux/macOS), or '' where the OS does not report it."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return ""
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


# ------------------------------------------------------------------------------------------- RESULTS.md file
PREAMBLE = """# Training speed: the classic loop vs the course loop

Produced by `python3 course.py bench ... --out benchmarks/RESULTS.md` ([`course_utils/tools/bench.py`](../course_utils/tools/bench.py);
the measuring is `course_utils.speed.compare_loops`). Each model starts from the same initial weights and trains on the same device, the same
images and for the same number of epochs, once per loop:

- **classic**: torchvision dataset with per-image `ToTensor`/`Normalize`, `DataLoader(batch_size=64, shuffle=True)`,
  fp32, `SGD(lr=0.01, momentum=0.5)`, `loss.item()` every step, evaluation through a `DataLoader` after each epoch;
- **course**: `course_utils.fit` with its defaults on `course_utils.make_loaders` (device-resident data, batch 128 on
  a CPU / 512 on a GPU, AdamW with a batch-scaled learning rate, warm-up + cosine decay, channels_last on
  CPU and CUDA, bf16 autocast where the device computes bf16 natively — CUDA GPUs from Ampere on, CPUs with
  AVX-512 BF16 or AMX —; on CUDA also cudnn.benchmark and a fused optimiser; one host synchronisation per epoch).
  The zoo networks (`--models zoo`) train with the AdamW learning rate `course_utils.models.REGISTRY` lists for each, as in
  notebook 06 (VGG without BatchNorm does not train at `fit`'s default).

Columns: **warm-up s** — a few untimed steps on a throwaway copy of the model before timing (this is where
`--compile` compiles); **epoch 1 s** — the first timed epoch; **steady s/epoch** — mean of epochs 2..N (with one
epoch: that epoch); **CPU s/epoch** — process CPU seconds of a steady training epoch, all threads together (on a
shared machine closer to the unshared time than the wall clock; on a GPU, the host's share); **eval s/epoch** — the
test-set evaluation after each epoch, not included in the training seconds; **images/s** — training images per steady second; **speed-up** — classic steady s/epoch ÷ course steady s/epoch;
**time to X %** — training seconds until the test accuracy first reaches X % (checked after each epoch,
`History.time_to_accuracy`); **GFLOP/image** — forward + backward FLOPs of one training image counted with
`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products); **TFLOP/s** — GFLOP/image × images/s;
**% of peak** — TFLOP/s ÷ the peak figure named under the table. CUDA timings synchronise the device before reading
the clock.

Each section below belongs to one device (GPU or CPU model), dataset, mode and set of `fit` overrides; a new run
with the same rewrites it. GPU sections come first.
"""

PENDING_GPU = "gpu-pending"
_SECTION = re.compile(r"<!-- section: (?P<key>.+?) -->\n.*?<!-- /section: (?P=key) -->\n?", re.S)


def write_section(path: Path, key: str, body: str) -> None:
    """Put `body` into `path` as the section `key`: replace that section if present, else append it.

    A GPU section also removes the 'GPU pending' placeholder."""
    text = path.read_text() if path.exists() else PREAMBLE
    first = text.find("<!-- section: ")
    text = PREAMBLE + "\n" + text[first:] if first >= 0 else PREAMBLE  # keep the preamble current
    block = f"<!-- section: {key} -->\n{body.rstrip()}\n<!-- /section: {key} -->\n"
    sections = {m["key"]: m for m in _SECTION.finditer(text)}
    if key in sections:
        m = sections[key]
        text = text[: m.start()] + block + text[m.end() :]
    else:
        first_cpu = next((m for k, m in sections.items() if not _is_gpu(k)), None)
        if _is_gpu(key) and first_cpu is not None:  # GPU sections go before the CPU ones
            text = text[: first_cpu.start()] + block + "\n" + text[first_cpu.start() :]
        else:
            text = text.rstrip() + "\n\n" + block
    if key.startswith("cuda") and PENDING_GPU in sections:
        text = _SECTION.sub(lambda m: "" if m["key"] == PENDING_GPU else m.group(0), text)
        text = re.sub(r"\n{3,}", "\n\n", text)
    path.write_text(text)


def _is_gpu(key: str) -> bool:
    return key == PENDING_GPU or key.startswith(("cuda", "mps"))


def device_key(device: torch.device) -> str:
    """What identifies a device's section: the GPU's name or the CPU's model (not the thread count)."""
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    if device.type == "cpu":
        return f"cpu {cpu_model()}"
    return device.type


def section_body(rows: Sequence[Row], info: dict[str, str], *, dataset: str, command: str, threshold: float,
                 peak_text: str, load_before: str, load_after: str, compile: bool) -> str:  # fmt: skip
    """The markdown of one results section: heading, command, environment, table and per-model speed-ups."""
    human = cu.data.get_spec(dataset).human
    first = rows[0]
    course = next(r for r in rows if r.loop != "classic")
    settings = course.history.settings if course.history else {}
    changed = " ".join(f"{k}={v}" for k, v in course.fit_options.items() if k != "compile")
    lines = [
        f"## {info['device']} · {human} ({info['mode']} mode)"
        + (f" · fit with {changed}" if changed else "") + f" · {info['date']}",
        "",
        f"- Command: `{command}`",
        f"- Device: {info['device']}",
        f"- Versions: {info['versions']}",
        f"- Data: {info['data']}; {first.train_images:,} training images, {info['test_images']} test images, "
        f"{first.epochs} epoch(s); input 28×28 (32×32 = padded by 2 for the 32-px models, in both loops)",
        f"- Course loop: `fit` {'with ' + changed if changed else 'defaults'} — "
        f"{settings.get('optimizer')}, batch {course.batch_size}, "
        f"lr {settings.get('lr', 0):.3g}, warm-up + cosine, bf16 autocast={settings.get('amp')}, "
        f"channels_last={settings.get('channels_last')}"
        + (", `torch.compile` on (compile time is in the warm-up column)" if compile else "")
        + zoo_lr_note(rows),
        f"- Peak: {peak_text}",
    ]
    if load_before:
        lines.append(f"- Load average before / after the run: {load_before} → {load_after}"
                     + (" — other processes shared the CPU, so wall-clock times are inflated and noisy (both loops "
                        "ran under the same contention, one after the other); the CPU s/epoch column, this process's "
                        "own CPU time, is the steadier comparison" if _busy(load_before, load_after) else ""))  # fmt: skip
    lines += ["", results_table(rows, threshold, markdown=True), ""]
    for classic, course in zip(rows[0::2], rows[1::2]):
        cpu_ratio = classic.steady_cpu_s / course.steady_cpu_s if course.steady_cpu_s > 0 else float("nan")
        lines.append(f"- {classic.model}: course loop **{course.speedup:.2f}×** faster per epoch "
                     f"({classic.steady_s:.2f} s → {course.steady_s:.2f} s; by CPU time {cpu_ratio:.2f}×), test accuracy "
                     f"{100 * classic.test_acc:.2f} % (classic) vs {100 * course.test_acc:.2f} % (course) after "
                     f"{course.epochs} epoch(s)")  # fmt: skip
    return "\n".join(lines) + "\n"


def zoo_lr_note(rows: Sequence[Row]) -> str:
    """'; zoo networks: ...' naming the learning rates the zoo networks trained with, when the table has any."""
    used = [f"{r.model} {r.lr:.0e}" for r in rows if r.loop != "classic" and r.lr is not None and REGISTRY[r.key].zoo]
    if not used:
        return ""
    return ("; the zoo networks train with the AdamW learning rate `course_utils.models.REGISTRY` lists for each, as in notebook "
            "06 (lr " + ", ".join(used) + ")")


def _busy(before: str, after: str) -> bool:
    cores = os.cpu_count() or 1
    try:
        return max(float(before.split()[0]), float(after.split()[0])) > 1.25 * cores
    except (ValueError, IndexError):
        return False


# ------------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, parsed and checked."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog="examples:\n" + __doc__.split("\n\n")[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated: {', '.join(REGISTRY)}; or the groups course, zoo, all (default: %(default)s)")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    p.add_argument("--epochs", type=int, default=None, help="epochs for both loops (default: 1 quick, 5 full)")
    p.add_argument("--train-size", type=int, default=None, help="use the first N training images (default: all)")
    p.add_argument("--test-size", type=int, default=None,
                   help="evaluate both loops on the same seeded random N test images (default: all)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="quick", action="store_true", default=None, help="bundled mini dataset")
    mode.add_argument("--full", dest="quick", action="store_false", help="full dataset")
    p.add_argument("--compile", action="store_true", help="fit(..., compile=True) for the course loop")
    p.add_argument("--fit", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of fit's defaults, e.g. --fit amp=True --fit channels_last=True (repeatable)")
    p.add_argument("--threshold", type=float, default=None, help="test accuracy for time-to-accuracy (0.98 MNIST, 0.90 Fashion-MNIST)")
    p.add_argument("--warmup-steps", type=int, default=5, help="untimed steps before timing (default: %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice, one per core)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--data-root", default=None, help="folder with the dataset's *-ubyte(.gz) files (full mode)")
    p.add_argument("--peak-tflops", type=float, default=None, help="override the device's peak TFLOP/s")
    p.add_argument("--out", default=None,
                   help="markdown file to update, e.g. benchmarks/RESULTS.md (default: print only, write no table)")
    p.add_argument("--chart", default=None, metavar="PATH",
                   help="PNG of the speed-up and time-to-accuracy per model (default: next to --out, else in "
                        "build/bench/, named by device, dataset and mode)")
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error("--epochs must be at least 1")
    return args


def parse_fit_options(items: Sequence[str]) -> dict[str, object]:
    """`["amp=True", "lr=0.01"]` -> `{"amp": True, "lr": 0.01}` (values read as Python literals, else strings)."""
    known = {f.name for f in fields(FitConfig)} - {"epochs", "compile", "device", "progress", "desc", "checkpoint", "on_epoch"}
    options: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in known:
            raise ValueError(f"--fit {item!r}: use KEY=VALUE with KEY one of fit's options "
                             f"(amp, channels_last, lr, optimizer, warmup, schedule, ...)")  # fmt: skip
        try:
            options[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key] = value.strip()
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark CLI; returns the exit status."""
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    try:
        names = resolve_models(args.models)
        fit_options = parse_fit_options(args.fit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.quick is not None:
        cu.set_quick(args.quick)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device) if args.device else cu.get_device()
    quick = cu.is_quick(dev)
    epochs = args.epochs or (1 if quick else 5)
    threshold = args.threshold if args.threshold is not None else DATASETS[args.dataset].speed_threshold
    prefix = f"COURSE_QUICK={os.environ['COURSE_QUICK']} " if os.environ.get("COURSE_QUICK") else ""
    command = prefix + PROG + ("" if not raw else " " + shlex.join(raw))
    try:
        split = cu.load_dataset(args.dataset, quick=quick, root=args.data_root)
    except DataUnavailableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    peak, peak_text = device_peak(dev, args.peak_tflops)
    load_before = load_text() if dev.type == "cpu" else ""
    print(f"$ {command}")
    print(f"device {device_name(dev)}, {cu.mode_name(dev)} mode, {args.dataset} ({split.source}), {epochs} epoch(s), "
          f"models: {', '.join(names)}", flush=True)  # fmt: skip
    rows: list[Row] = []
    if args.compile:
        fit_options["compile"] = True
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {REGISTRY[name].title}", flush=True)
        rows += compare_loops(name, split, epochs=epochs, train_size=args.train_size, test_size=args.test_size,
                              device=dev, warmup_steps=args.warmup_steps, threshold=threshold, peak_tflops=peak,
                              fit_options=fit_options, log=lambda m: print(m, flush=True))  # fmt: skip
    info = environment(dev)
    n_test = len(split.test_labels) if args.test_size is None else min(args.test_size, len(split.test_labels))
    info.update(mode=cu.mode_name(dev), date=date.today().isoformat(), data=split.source, test_images=f"{n_test:,}")
    body = section_body(rows, info, dataset=args.dataset, command=command, threshold=threshold, peak_text=peak_text,
                        load_before=load_before, load_after=load_text() if load_before else "", compile=args.compile)  # fmt: skip
    print()
    print(body)
    if args.out and args.out != "-":
        options = [f"{k}={v}" for k, v in fit_options.items() if k != "compile"] + (["compile"] if args.compile else [])
        key = " · ".join([device_key(dev), args.dataset, info["mode"], *options])
        write_section(Path(args.out), key, body)
        print(f"updated {args.out}")
    chart = chart_path(args.chart, args.out, dev, args.dataset, info["mode"])
    subtitle = (f"{info['device']} · {split.source} · {first_rows_images(rows):,} training images · {epochs} epoch(s) · "
                f"{info['mode']} mode · {info['date']}" + (f" · load {load_before}" if load_before else ""))  # fmt: skip
    save_chart(rows, threshold, subtitle, chart)
    print(f"chart: {chart}")
    return 0


def first_rows_images(rows: Sequence[Row]) -> int:
    """Training images per epoch of the benchmark (the same for every row)."""
    return rows[0].train_images if rows else 0


def chart_path(chart: str | None, out: str | None, device: torch.device, dataset: str, mode: str) -> Path:
    """Where the chart goes: `--chart`, else next to `--out`, else build/bench/ (git-ignored)."""
    if chart:
        return Path(chart)
    name = f"speed-{device.type}-{dataset}-{mode}.png"
    if out and out != "-":
        return Path(out).parent / name
    return ROOT / "build" / "bench" / name


def save_chart(rows: Sequence[Row], threshold: float, subtitle: str, path: Path) -> None:
    """The speed-up and time-to-accuracy per model (`plot.plot_loop_comparison`) as a PNG at `path`."""
    import matplotlib.pyplot as plt

    from course_utils.plot import plot_loop_comparison

    results = {
        course.model: {"speedup": course.speedup, "classic_tta": classic.time_to_acc, "course_tta": course.time_to_acc}
        for classic, course in zip(rows[0::2], rows[1::2])
    }
    fig = plot_loop_comparison(results, threshold, subtitle)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
