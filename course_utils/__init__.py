"""Shared code of the CNN teaching notebooks: mode and device, data, models, training, summaries, plots.

Each concept lives in its own module (`mode`, `data`, `conv`, `models`, `train`, `summary`, `plot`, `zoo`); the most
used names are re-exported here so a notebook can start with `import course_utils as cu`.
Note: `cu.summary` is the *function* `summary(model, input_size)`; import the module's other names directly
(`cu.stage_table`, or `from course_utils.summary import stage_table`).
"""

from .data import DeviceLoader, load_dataset, make_loaders
from .mode import get_device, is_quick, mode_name, run_info, seed_everything, set_quick
from .summary import SummaryResult, count_flops, count_macs, count_params, stage_table, summary
from .train import History, evaluate, fit

__all__ = [
    "DeviceLoader",
    "History",
    "SummaryResult",
    "count_flops",
    "count_macs",
    "count_params",
    "evaluate",
    "fit",
    "get_device",
    "is_quick",
    "load_dataset",
    "make_loaders",
    "mode_name",
    "run_info",
    "seed_everything",
    "set_quick",
    "stage_table",
    "summary",
]
__version__ = "0.1.0"
