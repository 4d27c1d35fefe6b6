"""The sweep's Ray Tune engine: every grid cell is one trial, on this machine's cores or on a cluster.

Why Ray Tune rather than a scheduler of our own: a grid search with a resource request per trial (CPU
cores, whole or fractional GPUs), placement across the nodes of a cluster (``ray start``, KubeRay) and
trial failure handling are what Tune already does for sweeps like this one. Ray is an optional
dependency (``requirements-cluster.txt``), imported only when this engine runs.

What this engine shares with the local one, so that both give the same results:

* Every trial calls ``build_variant``, and the variant cache is the single source of truth: a trial finds a
  finished variant there and returns at once; a new variant is written with the cache's atomic write, so a
  trial killed mid-fine-tune leaves nothing half-written. Both engines look up the same key, so a sweep
  interrupted on either resumes on either. Tune's own experiment state is never used to resume.
* A trial returns only its variant's name. The driver (``grid.run_sweep``) loads each variant from the cache,
  times it on the driver one at a time (timing inside concurrent trials would measure their contention)
  and writes the rows, summary and figures with the local engine's code.

Data travels through the object store: the driver loads and cleans each dataset once
(``pipeline.load_dataset``) and puts the splits there; a trial takes the splits of its dataset. Chosen over
letting each worker load the files because (1) workers need neither the CSVs nor network access (the
official files come from GitHub, and cluster nodes often have no egress); (2) every trial trains and tests
on the driver's exact splits, including the stratified split the loader makes when a file is missing, so
results match the local engine's; (3) cleaning runs once, not once per trial; (4) the splits are small:
the offline SHC splits pickle to 0.5 MB and LPC's to 3.5 MB (the official files are about ten times that,
LDC more), and Ray spills what does not fit in the object store to disk.

On a cluster the cache folder must be one that the driver and every node see (NFS, a KubeRay volume): the
driver checks that it can read each variant a trial reports, and says how to fix it when it cannot.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from models.store import slug

from ..cache import VariantCache, VariantNotFoundError
from ..config import FinetuneConfig, PruneConfig, _Config
from ..pipeline import build_variant, load_dataset
from ..speed.machine import available_cpus

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install -r requirements-cluster.txt"
ROOT = Path(__file__).resolve().parents[2]
# Shipped to a cluster's workers with the job (a local instance imports them from this checkout), so
# every node runs the driver's code and has the offline models under models/offline.
CODE_PACKAGES = ("pruning", "models")
# Passed on to workers when set on the driver: offline mode, a hub mirror, the project's cache root.
FORWARDED_ENV = ("HF_HUB_OFFLINE", "HF_ENDPOINT", "TOKENIZERS_PARALLELISM", "MARATHI_PRUNE_HOME")
# Set on the driver while Tune runs: its console output (experiment table, TensorBoard hint, trial tables)
# is of no use here, the driver shows its own bar. The legacy output engine is the one that stays silent at
# verbose=0. (Tune's per-trial result files stay on: the result grid is read back from them.)
TUNE_ENV = {"RAY_AIR_NEW_OUTPUT": "0"}

Job = tuple[str, PruneConfig | None, FinetuneConfig]  # what build_variant takes: model, cut, fine-tuning


@dataclass
class RayConfig(_Config):
    """Where the trials run and what each one reserves. None of it is part of a variant's cache key.

    The torch thread count (``cpus_per_trial``) can move a result by floating-point rounding: the smoke preset
    with 1 thread per trial differs from the local engine's 2 threads by one test headline in one variant, and
    matches it exactly with ``cpus_per_trial=2``.

    Args:
        address (str, optional): join an existing cluster (``"auto"`` on a node started with ``ray start``,
            ``"ray://head:10001"`` from outside it); None starts a local instance on this machine's cores.
            Clusters of Ray 2.60 use token authentication: the driver needs ``RAY_AUTH_MODE=token`` and the
            cluster's token (``~/.ray/auth_token``).
        cpus_per_trial (float, defaults to 1): CPU cores a trial reserves; also its torch thread count.
        gpus_per_trial (float, defaults to 0): GPUs a trial reserves; a fraction (0.5) packs small models on
            one GPU. With 0 a trial trains on CPU even on a GPU node.
        local_cpus (int, optional): cores of a local instance; defaults to the cores this process may use.
        object_store_mb (int, defaults to 512): object store of a local instance (it holds the shipped
            splits; SHC is a few MB).
    """

    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    local_cpus: int | None = None
    object_store_mb: int = 512

    def __post_init__(self) -> None:
        if not self.cpus_per_trial > 0:
            raise ValueError(f"cpus_per_trial must be > 0, got {self.cpus_per_trial}")
        if self.gpus_per_trial < 0:
            raise ValueError(f"gpus_per_trial must be >= 0, got {self.gpus_per_trial}")
        if self.local_cpus is not None and self.local_cpus < 1:
            raise ValueError(f"local_cpus must be >= 1, got {self.local_cpus}")
        if self.object_store_mb < 64:
            raise ValueError(f"object_store_mb must be at least 64, got {self.object_store_mb}")
        if self.address is None:
            cores = self.local_cpus or available_cpus()
            if self.cpus_per_trial > cores:
                raise ValueError(
                    f"cpus_per_trial {self.cpus_per_trial:g} is more than the {cores} cores of a local Ray "
                    "instance; lower --cpus-per-trial or join a cluster with --address"
                )


def require_ray():
    """The ``ray`` module, or ImportError with the install hint (the local engine never needs Ray)."""
    try:
        import ray
        import ray.tune  # noqa: F401  (the extra that requirements-cluster.txt installs)
    except ImportError as exc:
        raise ImportError(f"the ray engine needs Ray Tune, which is not installed: {INSTALL_HINT}") from exc
    return ray


def job_label(job: Job) -> str:
    """A readable, filesystem-safe trial name: ``offline-teacher__middle-k6__SHC__s0``."""
    base, prune, train = job
    cut = "full" if prune is None else f"{prune.strategy}-k{prune.keep or len(prune.layers or [])}"
    cut += "-distilled" if train.distil_from else ""
    return slug(f"{base.rstrip('/').split('/')[-1]}__{cut}__{train.dataset}__s{train.seed}", max_len=100)


def run_on_ray(
    jobs: Sequence[Job],
    cache: VariantCache,
    data_dir: str | os.PathLike | None = None,
    config: RayConfig | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict[str, Any] | None]:
    """Build (or fetch from the cache) every job's variant as one trial of a Ray Tune grid search.

    Uses the Ray instance this process is already connected to, if any (a notebook, a test) and leaves it
    running; otherwise starts (or joins, with ``config.address``) one and shuts it down at the end.

    Args:
        jobs: (model, prune config or None, fine-tune config) per grid cell, in the sweep's order.
        cache: the variant cache; on a cluster, a folder every node and the driver share.
        data_dir: MahaNews folder on the driver (else $MAHANEWS_DIR, download, sibling shared/).
        config: where and with what resources trials run.
        should_stop: polled by the driver; True stops the sweep (running trials are killed, their partial
            work is discarded by the atomic write, queued trials never start).

    Returns:
        Per job, in order: ``{"variant": cache folder name, "from_cache": bool, "test_accuracy": float,
        "node": host}``, or None for a job that did not finish because the sweep was stopped.

    Raises:
        ImportError: Ray is not installed (with the install hint).
        ValueError: a trial's variant is not readable from the driver (the cache is not shared).
        Exception: the first failed trial's own error (a bad model name, missing data, ...).
    """
    ray = require_ray()
    config = config or RayConfig()
    if not jobs:
        return []
    started = False
    if not ray.is_initialized():
        _init(ray, config)
        started = True
    try:
        outcomes = _fit(ray, list(jobs), cache, data_dir, config, should_stop)
    finally:
        if started:
            ray.shutdown()
    for job, outcome in zip(jobs, outcomes, strict=True):
        if outcome is not None:
            _check_visible(cache, job, outcome)
    return outcomes


def _init(ray, config: RayConfig) -> None:
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    if config.address:
        runtime_env = {
            "py_modules": [str(ROOT / package) for package in CODE_PACKAGES],
            # models/variants: the app's bundled fine-tuned variants (50 MB), which trials never read
            "excludes": ["__pycache__", "*.pyc", "/variants"],
            "env_vars": env,
        }
        ray.init(address=config.address, runtime_env=runtime_env, logging_level=logging.WARNING)
        return
    ray.init(
        address="local",  # a new instance, even where `ray start` or $RAY_ADDRESS points at a cluster
        num_cpus=config.local_cpus or available_cpus(),
        object_store_memory=config.object_store_mb * 2**20,
        include_dashboard=False,
        runtime_env={"env_vars": env},
        logging_level=logging.WARNING,
    )


def _fit(ray, jobs: list[Job], cache: VariantCache, data_dir, config: RayConfig, should_stop) -> list[dict | None]:
    from ray import tune

    # One object per dataset, so a trial fetches only the splits it trains on.
    splits = {name: ray.put(load_dataset(name, data_dir)) for name in sorted({job[2].dataset for job in jobs})}
    settings = {
        "cache_root": str(cache.root),
        "bundled": str(cache.bundled) if cache.bundled else None,
        "threads": max(1, int(config.cpus_per_trial)),
        "cpu_only": config.gpus_per_trial == 0,
        "quiet_transformers": _transformers_is_quiet(),
    }
    specs = [(base, prune.to_dict() if prune else None, train.to_dict()) for base, prune, train in jobs]
    trainable = tune.with_resources(
        tune.with_parameters(_trial, specs=specs, splits=splits, settings=settings),
        {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial},
    )
    labels = [job_label(job) for job in jobs]
    with tempfile.TemporaryDirectory(prefix="marathi-prune-tune-") as storage, _quiet_tune():
        tuner = tune.Tuner(
            trainable,
            param_space={"cell": tune.grid_search(list(range(len(jobs))))},
            tune_config=tune.TuneConfig(
                reuse_actors=True,  # a worker imports torch and transformers once, not once per trial
                trial_name_creator=_TrialName(labels),
                trial_dirname_creator=_TrialName(labels, numbered=True),
            ),
            run_config=tune.RunConfig(
                name="sweep",
                storage_path=storage,  # Tune's bookkeeping only: results live in the variant cache
                verbose=0,
                callbacks=[_progress_callback(tune, len(jobs))],
                stop=_stopper(tune, should_stop),
                failure_config=tune.FailureConfig(fail_fast=True),  # like the local engine: stop at the first error
            ),
        )
        grid = tuner.fit()
    outcomes: list[dict | None] = [None] * len(jobs)
    errors: dict[int, BaseException] = {}
    for result in grid:
        cell = (result.config or {}).get("cell")
        if cell is None:  # a trial that never started (the sweep stopped first)
            continue
        if result.error is not None:
            errors[cell] = result.error
        elif (result.metrics or {}).get("variant"):
            outcomes[cell] = {k: result.metrics[k] for k in ("variant", "from_cache", "test_accuracy", "node")}
    if errors:
        cell = min(errors)
        cause = getattr(errors[cell], "cause", None) or errors[cell]
        logger.error("trial %s failed: %s", labels[cell], cause)
        raise cause
    return outcomes


def _trial(config: dict, specs: list, splits: dict, settings: dict) -> dict:
    """One grid cell, on a worker: build or fetch its variant; returns where it is in the cache."""
    if settings["cpu_only"]:  # Ray 2.60 leaves the GPUs visible to a trial that reserved none: hide them
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import datasets
    import ray
    import torch
    import transformers

    base, prune, train = specs[config["cell"]]
    torch.set_num_threads(settings["threads"])
    # Worker bars would arrive on the driver as interleaved log lines; the driver's bar over trials replaces them.
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    if settings["quiet_transformers"]:  # as the CLI set up the driver
        transformers.utils.logging.set_verbosity_error()
    train = FinetuneConfig.from_dict(train)
    variant = build_variant(
        base,
        PruneConfig.from_dict(prune) if prune else None,
        train,
        cache=VariantCache(settings["cache_root"], settings["bundled"]),
        splits=ray.get(splits[train.dataset]),
        show_progress=False,
    )
    return {
        "variant": variant.record["name"],
        "from_cache": variant.from_cache,
        "test_accuracy": variant.test_accuracy,
        "node": socket.gethostname(),
    }


def _check_visible(cache: VariantCache, job: Job, outcome: dict) -> None:
    try:
        cache.find(outcome["variant"])
    except VariantNotFoundError:
        raise ValueError(
            f"trial {job_label(job)} on {outcome['node']} wrote {outcome['variant']} to {cache.root} on its own "
            "disk, which this machine cannot read; give --cache-dir a folder that the driver and every node share "
            "(NFS, a KubeRay volume)"
        ) from None


class _TrialName:
    """Tune names trials by cell (picklable, unlike a lambda over ``labels`` in some Ray versions)."""

    def __init__(self, labels: list[str], numbered: bool = False) -> None:
        self.labels, self.numbered = labels, numbered

    def __call__(self, trial) -> str:
        cell = trial.config["cell"]
        return f"{cell:04d}-{self.labels[cell]}" if self.numbered else self.labels[cell]


def _progress_callback(tune, total: int):
    """A driver-side bar over trials: done / running / queued (and failed or stopped, if any)."""

    def state(trial) -> str:
        if trial.status == "TERMINATED":  # finished, or stopped before it could (no result then)
            return "done" if "variant" in (trial.last_result or {}) else "stopped"
        return {"RUNNING": "running", "ERROR": "failed"}.get(trial.status, "queued")

    class Progress(tune.Callback):
        def __init__(self) -> None:
            self.bar = None
            self.shown: dict = {}

        def on_step_end(self, iteration: int, trials: list, **info) -> None:
            counts = Counter(state(t) for t in trials)
            shown = {
                "running": counts["running"],
                "queued": total - sum(counts.values()) + counts["queued"],  # Tune creates trials lazily
                **{k: counts[k] for k in ("failed", "stopped") if counts[k]},
            }
            if shown == self.shown and self.bar is not None:
                return
            if self.bar is None:
                self.bar = tqdm(total=total, desc="sweep (ray)", unit="variant")
            self.shown = shown
            self.bar.n = counts["done"]
            self.bar.set_postfix(shown, refresh=True)

        def on_experiment_end(self, trials: list, **info) -> None:
            self.on_step_end(0, trials)
            if self.bar is not None:
                self.bar.close()

    return Progress()


def _stopper(tune, should_stop: Callable[[], bool] | None):
    class StopWhenAsked(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False  # a trial is one build_variant call: it reports once, at the end

        def stop_all(self) -> bool:
            return bool(should_stop and should_stop())

    return StopWhenAsked()


class _DropStopNoise(logging.Filter):
    """Drops what Tune logs about a stopped sweep: its 'resume with Tuner.restore' advice is wrong here (a sweep
    resumes by running it again) and the trials that never started have, of course, no metrics."""

    NOISE = ("Tuner.restore", "Trials did not complete", "Failed to fetch metrics")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


# The loggers _DropStopNoise filters: Tune's run loop and its reader of trial results.
TUNE_LOGGERS = ("ray.tune.tune", "ray.tune.analysis.experiment_analysis")


@contextlib.contextmanager
def _quiet_tune() -> Iterator[None]:
    """``TUNE_ENV`` and ``_DropStopNoise`` for the duration of one fit, then as they were."""
    loggers, noise = [logging.getLogger(name) for name in TUNE_LOGGERS], _DropStopNoise()
    saved = {name: os.environ.get(name) for name in TUNE_ENV}
    os.environ.update(TUNE_ENV)
    for tune_logger in loggers:
        tune_logger.addFilter(noise)
    try:
        yield
    finally:
        for tune_logger in loggers:
            tune_logger.removeFilter(noise)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _transformers_is_quiet() -> bool:
    import transformers

    return transformers.utils.logging.get_verbosity() >= logging.ERROR
