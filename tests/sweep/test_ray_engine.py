"""The Ray engine: the smoke grid on a local 2-CPU Ray instance, interrupted, resumed by the local engine.

The Ray test is skipped only when Ray is not installed (``pip install -r requirements-cluster.txt``; CI
installs it through requirements-dev.txt). The other tests here need no Ray.
"""

from __future__ import annotations

import logging
import sys

import pytest

from pruning import VariantCache
from pruning.cli import main
from pruning.sweep import PRESETS, SweepConfig, SweepInterrupted, run_sweep
from pruning.sweep.ray_engine import INSTALL_HINT, RayConfig, job_label, require_ray

# The smoke grid with fine-tunes cut to two steps: the test is about engines and the cache, not accuracy.
TINY = {"epochs": 1, "max_train_samples": 64, "max_eval_samples": 64}


def _smoke(**finetune) -> SweepConfig:
    values = dict(PRESETS["smoke"])
    return SweepConfig.from_dict({**values, "finetune": {**values["finetune"], **finetune}, "latency": False})


@pytest.fixture(scope="module")
def local_ray():
    """A small local Ray instance: 2 CPUs, 200 MB object store, no dashboard; shut down after the module."""
    ray = pytest.importorskip("ray", reason=f"Ray is not installed ({INSTALL_HINT}); CI installs it")
    pytest.importorskip("ray.tune", reason=f"Ray Tune is not installed ({INSTALL_HINT})")
    ray.init(
        address="local",  # never a cluster that `ray start` left running on this machine
        num_cpus=2,
        object_store_memory=200 * 2**20,
        include_dashboard=False,
        logging_level=logging.WARNING,
    )
    yield ray
    ray.shutdown()


def test_smoke_preset_is_two_variants_and_a_scratch_model_on_a_slice_of_shc():
    config = SweepConfig.from_dict(PRESETS["smoke"])
    cells = config.cells()
    pruned = [prune for _, prune, _, _ in cells if prune is not None]
    assert len(pruned) == 2 and [m for m, *_ in cells].count("offline-small") == 1 and len(cells) == 4
    assert config.seeds == [0] and config.datasets == ["SHC"] and config.finetune["max_train_samples"] <= 512


def test_run_sweep_rejects_unknown_engine_and_stray_ray_config():
    config = _smoke()
    with pytest.raises(ValueError, match="unknown sweep engine 'spark'; valid engines: local, ray"):
        run_sweep(config, engine="spark")
    with pytest.raises(ValueError, match="only used by engine 'ray'"):
        run_sweep(config, ray_config=RayConfig())


def test_local_sweep_stops_when_asked_before_building(tmp_path):
    with pytest.raises(SweepInterrupted, match="0 of 4 variants finished"):
        run_sweep(_smoke(), VariantCache(tmp_path), should_stop=lambda: True)


def test_ray_config_checks_resources():
    with pytest.raises(ValueError, match="cpus_per_trial must be > 0"):
        RayConfig(cpus_per_trial=0)
    with pytest.raises(ValueError, match="gpus_per_trial must be >= 0"):
        RayConfig(gpus_per_trial=-1)
    with pytest.raises(ValueError, match="more than the 2 cores of a local Ray instance"):
        RayConfig(cpus_per_trial=4, local_cpus=2)
    assert RayConfig(address="auto", cpus_per_trial=64).cpus_per_trial == 64  # a cluster has its own cores


def test_job_label_names_the_cell():
    from pruning import FinetuneConfig, PruneConfig

    train = FinetuneConfig(dataset="SHC", seed=3)
    assert job_label(("offline-teacher", PruneConfig("middle", keep=6), train)) == "offline-teacher__middle-k6__SHC__s3"
    assert job_label(("l3cube-pune/marathi-bert-v2", None, train)) == "marathi-bert-v2__full__SHC__s3"


def test_ray_engine_without_ray_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as when it is not installed
    with pytest.raises(ImportError, match="pip install -r requirements-cluster.txt"):
        require_ray()
    assert main(["sweep", "--preset", "smoke", "--engine", "ray"]) == 2
    assert "error: the ray engine needs Ray Tune, which is not installed: pip install" in capsys.readouterr().err


def test_ray_flags_need_the_ray_engine(capsys):
    assert main(["sweep", "--preset", "smoke", "--address", "auto", "--gpus-per-trial", "1"]) == 2
    assert "--address, --gpus-per-trial only apply to --engine ray" in capsys.readouterr().err


def test_ray_sweep_interrupted_after_first_trial_resumes_on_the_local_engine(local_ray, tmp_path):
    config = _smoke(**TINY)
    cache = VariantCache(tmp_path / "cache")

    def finished() -> dict[str, str]:
        return {r["name"]: r["created"] for r in cache.list().records}

    with pytest.raises(SweepInterrupted, match="running the same command again"):
        run_sweep(config, cache, engine="ray", should_stop=lambda: bool(finished()))
    built_on_ray = finished()
    assert 1 <= len(built_on_ray) < len(config.cells())

    local = run_sweep(config, cache, engine="local")  # resumes: re-trains nothing that Ray cached
    assert len(local) == len(config.cells()) and local.variant.is_unique
    assert set(local[local.from_cache].variant) == set(built_on_ray)
    assert {name: finished()[name] for name in built_on_ray} == built_on_ray  # not rewritten

    again = run_sweep(config, cache, engine="ray")  # and the other way round: everything comes from the cache
    assert again.from_cache.all() and list(again.columns) == list(local.columns)
    assert again.drop(columns="from_cache").equals(local.drop(columns="from_cache"))


def test_distilled_cells_serialise_for_ray_trials():
    """A twin travels to its trial as (base, prune dict, fine-tune dict), like any cell: the teacher is a name."""
    import pickle

    from pruning import FinetuneConfig, PruneConfig

    train = FinetuneConfig(seed=3, distil_from="offline-teacher__full-k12-0.1__SHC__s3__0123456789", distil_alpha=0.2)
    job = ("offline-teacher", PruneConfig("middle", keep=6), train)
    spec = pickle.loads(pickle.dumps((job[0], job[1].to_dict(), train.to_dict())))
    assert FinetuneConfig.from_dict(spec[2]) == train and PruneConfig.from_dict(spec[1]) == job[1]
    assert job_label(job) == "offline-teacher__middle-k6-distilled__SHC__s3"


def test_ray_distil_sweep_builds_twins_after_teachers_and_matches_local(local_ray, tiny_base_dir, tmp_path):
    config = SweepConfig(
        bases=[str(tiny_base_dir)],
        strategies=["middle"],
        keeps=[2],
        seeds=[0],
        distil=True,
        latency=False,
        finetune={**TINY, "batch_size": 32, "learning_rate": 1e-3},
    )
    cache = VariantCache(tmp_path / "cache")
    on_ray = run_sweep(config, cache, engine="ray")
    assert list(on_ray.role) == ["full", "pruned", "distilled"] and not on_ray.from_cache.any()
    assert on_ray.teacher.iloc[2] == on_ray.variant.iloc[0]
    local = run_sweep(config, cache, engine="local")
    assert local.from_cache.all() and local.drop(columns="from_cache").equals(on_ray.drop(columns="from_cache"))
