"""Shared code of the CNN teaching notebooks, one module per concept.

`runtime` (device, quick/full mode, seeding, sync) · `data` (datasets and loaders) · `models` (the networks and their
one registry) · `conv` (convolution from scratch) · `train` (`fit`, `evaluate`), with `history`, `optim`,
`precision` and `checkpoint` · `classic` (the classic blog loop) · `speed` (classic loop vs `fit`) · `measure`
(summaries, parameter/MAC/FLOP counts, device peaks) · `tables` · `plot` (figures) ·
`banner` (`run_info`, the notebook banner) · `tools` (the course's command-line tools: running notebooks, homework, slides, benchmark).
The most used names are re-exported here so a notebook can start with `import course_utils as cu`.
Note: `cu.summary` is the *function* `summary(model, input_size)`.
`use_style()` applies the course's figure style (`plot.STYLE`): font sizes that stay readable when a figure is shown
on a lecture slide. Every notebook calls it in its first cell; importing the package changes no setting.
"""

from .banner import run_info
from .data import DeviceLoader, load_dataset, make_loaders
from .history import History
from .measure import SummaryResult, count_flops, count_macs, count_params, stage_table, summary
from .plot import use_style
from .runtime import get_device, is_quick, mode_name, seed_everything, set_quick, sync
from .tables import format_table, print_table
from .train import FitConfig, evaluate, fit

__all__ = [
    "DeviceLoader",
    "FitConfig",
    "History",
    "SummaryResult",
    "count_flops",
    "count_macs",
    "count_params",
    "evaluate",
    "fit",
    "format_table",
    "get_device",
    "is_quick",
    "load_dataset",
    "make_loaders",
    "mode_name",
    "print_table",
    "run_info",
    "seed_everything",
    "set_quick",
    "stage_table",
    "summary",
    "sync",
    "use_style",
]
__version__ = "0.1.0"
