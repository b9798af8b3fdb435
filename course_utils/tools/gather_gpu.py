"""Gather what the lent GPU machine lacks into two git-ignored folders of the repository, so that one device call can
carry them (`python3 course.py gpu-check --gather`; CONTRIBUTING.md, "Running the GPU check", gives the call).

* `.whl/` — wheels for Python 3.12 (the GPU machine's `python3`) of the packages the notebooks need there and its
  image does not hold (the Jupyter kernel and client stack, nbval, torchsummary, ipywidgets): the exact versions of
  `constraints.txt`, fetched with the device README's recipe (`pip download --no-deps --only-binary=:all:
  --python-version 3.12 ... manylinux x86_64`). Wheels of other versions are removed: two versions of one package
  stop the whole install there.
* `.gpudata/` — the full Fashion-MNIST (`FashionMNIST/raw/*.gz`, from `../shared/data/fashion-mnist`, checked against
  the md5 sums of its README) and the bundled mini MNIST (`MNIST/raw/*.gz`; the full MNIST is not available
  offline). The files stay gzipped: decompressed, Fashion-MNIST alone is 52 MiB, and a device call carries 64 MiB
  in all (working tree, wheels and data); `gpu-check` decompresses them on the GPU machine.

It prints the size of each folder and of the working tree, and fails when together they pass the 64 MiB limit.
Standard library only: it runs with any `python3` that has pip, without the course's environment.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WHEELS = ROOT / ".whl"
GPUDATA = ROOT / ".gpudata"
TRANSFER_LIMIT = 64 * 2**20  # bytes a device call carries: working tree + carried folders
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

# Packages the notebooks, nbval and gpu-check import on the GPU machine that its image lacks (device KINDS.md, package
# list of 2026-11-17), with everything they need that is not there either. Versions come from constraints.txt.
MISSING_ON_GPU = (
    "asttokens", "comm", "debugpy", "executing", "fastjsonschema", "ipykernel", "ipython", "ipython_pygments_lexers",
    "ipywidgets", "jedi", "jsonschema", "jsonschema-specifications", "jupyter_client", "jupyter_core",
    "jupyterlab_widgets", "matplotlib-inline", "nbclient", "nbformat", "nbval", "nest-asyncio2", "parso", "pexpect",
    "platformdirs", "prompt_toolkit", "ptyprocess", "pure_eval", "pyzmq", "referencing", "rpds-py", "stack-data",
    "torchsummary", "tornado", "traitlets", "wcwidth", "widgetsnbextension",
)  # fmt: skip

# The device README's recipe for wheels the GPU machine (Python 3.12, x86-64) can install.
PIP_DOWNLOAD = (
    "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_27_x86_64", "--platform", "manylinux_2_17_x86_64",
    "--platform", "manylinux2014_x86_64", "--platform", "manylinux1_x86_64",
)  # fmt: skip

# md5 of the decompressed files (../shared/data/README.md for Fashion-MNIST; course_utils/datasets/README.md's MNIST).
MD5 = {
    "FashionMNIST": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
    "MNIST": {
        "train-images-idx3-ubyte": "73875c53fd189a3d1f5d248b72d87772",
        "train-labels-idx1-ubyte": "742de12842fbb3090203268496d2ccae",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pinned_versions(names: Sequence[str] = MISSING_ON_GPU, constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """`NAME==VERSION` for each of `names`, the version read from `constraints.txt` (a name missing there is an error)."""
    pins = {}
    for line in constraints.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "==" in line:
            name, _, version = line.partition("==")
            pins[_norm(name)] = version.strip()
    missing = [n for n in names if _norm(n) not in pins]
    if missing:
        raise SystemExit(f"not pinned in {constraints}: {', '.join(missing)}")
    return [f"{n}=={pins[_norm(n)]}" for n in names]


def _wheel_key(path: Path) -> str:
    """The normalised project name of a wheel file (`pyzmq-27.3.0-cp312-...whl` -> `pyzmq`)."""
    return _norm(path.name.split("-")[0])


def gather_wheels(folder: Path = WHEELS, python: str = sys.executable) -> list[Path]:
    """Download the pinned wheels into `folder` (pip skips those already there) and remove any other wheel."""
    folder.mkdir(exist_ok=True)
    wanted = pinned_versions()
    cmd = [python, *PIP_DOWNLOAD, "-d", str(folder), *wanted]
    print("$ " + " ".join(cmd[1:]), flush=True)
    if subprocess.run(cmd).returncode:
        raise SystemExit("pip download failed (above): check the network or the package index, then run again")
    keep = {_norm(r.split("==")[0]): r.split("==")[1] for r in wanted}
    wheels = []
    for path in sorted(folder.glob("*.whl")):
        name, version = _wheel_key(path), path.name.split("-")[1]
        if keep.get(name) != version:
            print(f"removing {path.name}: not one of the pinned wheels")
            path.unlink()
        else:
            wheels.append(path)
    found = {_wheel_key(p) for p in wheels}
    if found != set(keep):
        raise SystemExit(f"wheels missing after the download: {', '.join(sorted(set(keep) - found))}")
    return wheels


def _md5_of_decompressed(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    digest = hashlib.md5()
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_checked(source: Path, class_name: str, folder: Path) -> list[Path]:
    """Copy the four files (gzipped, gzipping plain ones) of `class_name` into `folder/<class_name>/raw/`, each
    checked against its md5 sum."""
    raw = folder / class_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in FILES:
        src = next((p for p in (source / f"{name}.gz", source / name) if p.is_file()), None)
        if src is None:
            raise SystemExit(f"{class_name}: {name}(.gz) is not in {source}")
        if _md5_of_decompressed(src) != MD5[class_name][name]:
            raise SystemExit(f"{src}: its content's md5 is not the expected {MD5[class_name][name]}")
        dst = raw / f"{name}.gz"
        if src.suffix == ".gz":
            shutil.copyfile(src, dst)
        else:
            with open(src, "rb") as fin, gzip.open(dst, "wb", compresslevel=6) as fout:
                shutil.copyfileobj(fin, fout)
        copied.append(dst)
    return copied


def gather_data(fashion: Path, folder: Path = GPUDATA) -> list[Path]:
    """`.gpudata/FashionMNIST/raw/*.gz` from `fashion` (a folder holding the files or `FashionMNIST/raw/`) and
    `.gpudata/MNIST/raw/*.gz` from the bundled mini MNIST."""
    fashion_raw = fashion / "FashionMNIST" / "raw" if (fashion / "FashionMNIST" / "raw").is_dir() else fashion
    files = _copy_checked(fashion_raw, "FashionMNIST", folder)
    files += _copy_checked(ROOT / "course_utils" / "datasets" / "mnist-mini", "MNIST", folder)
    return files


def tree_bytes(root: Path = ROOT) -> int:
    """Bytes of what a device call sends besides the carried folders: tracked files and untracked, not ignored ones."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout  # fmt: skip
    return sum((root / name).stat().st_size for name in out.decode().split("\0") if name and (root / name).is_file())


def folder_bytes(folder: Path) -> int:
    """Bytes of every file below `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _ignored(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


def main(argv: Sequence[str] | None = None) -> int:
    """Gather the wheels and the data, print the sizes against the transfer limit; returns the exit status."""
    p = argparse.ArgumentParser(prog="python3 course.py gpu-check --gather", description=__doc__.split("\n\n")[0])
    p.add_argument("--fashion", type=Path, default=ROOT.parent / "shared" / "data" / "fashion-mnist",
                   help="folder with the full Fashion-MNIST's four files, or FashionMNIST/raw/ (default: %(default)s)")
    p.add_argument("--no-wheels", action="store_true", help="only the data")
    args = p.parse_args(argv)
    for folder in (WHEELS, GPUDATA):
        folder.mkdir(exist_ok=True)
        if not _ignored(folder):
            raise SystemExit(f"{folder.name}/ is not git-ignored: add '/{folder.name}/' to .gitignore first")
    wheels = [] if args.no_wheels else gather_wheels()
    data = gather_data(args.fashion)
    sizes = {".whl": folder_bytes(WHEELS) if WHEELS.exists() else 0, ".gpudata": folder_bytes(GPUDATA), "tree": tree_bytes()}
    total = sum(sizes.values())
    mib = 2**20
    print(f"\n.whl/      {len(wheels):3d} wheels  {sizes['.whl'] / mib:6.1f} MiB")
    print(f".gpudata/  {len(data):3d} files   {sizes['.gpudata'] / mib:6.1f} MiB")
    print(f"working tree (tracked + untracked, not ignored) {sizes['tree'] / mib:6.1f} MiB")
    print(f"a device call carrying both: {total / mib:.1f} MiB of the {TRANSFER_LIMIT / mib:.0f} MiB limit")
    if total > TRANSFER_LIMIT:
        print("OVER THE LIMIT: the call would be refused; remove untracked files or carry less", file=sys.stderr)
        return 1
    print("Next: the device call in CONTRIBUTING.md, section 'Running the GPU check'.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
