"""The sweep: base models x strategies x layers kept x datasets x seeds, on one machine or a Ray cluster.

Modules, bottom up: ``report`` (mean and 95% interval over seeds, Markdown, figure, files), ``grid``
(``SweepConfig``, presets, ``run_sweep`` and the local engine), ``ray_engine`` (a Ray Tune trial per cell;
Ray is imported only when it runs), ``cli`` (``python -m pruning sweep``). Both engines build variants
through ``build_variant`` into the same cache and write the same rows and files, so a sweep interrupted
on one resumes on the other.
"""

from .cli import add_sweep_parser, cmd_sweep, default_output
from .grid import (
    DEFAULT_OUTPUT,
    ENGINES,
    OFFLINE_RECIPE,
    PRESETS,
    PRUNE_STRATEGIES,
    SweepConfig,
    SweepInterrupted,
    describe_cells,
    run_sweep,
)
from .report import (
    accuracy_figure,
    ci95,
    distil_comparison,
    distil_markdown,
    summarise,
    to_markdown,
    welch_ci95,
    write_outputs,
)

__all__ = [
    "DEFAULT_OUTPUT",
    "ENGINES",
    "PRESETS",
    "OFFLINE_RECIPE",
    "PRUNE_STRATEGIES",
    "SweepConfig",
    "SweepInterrupted",
    "accuracy_figure",
    "add_sweep_parser",
    "ci95",
    "cmd_sweep",
    "default_output",
    "describe_cells",
    "distil_comparison",
    "distil_markdown",
    "run_sweep",
    "summarise",
    "to_markdown",
    "welch_ci95",
    "write_outputs",
]
