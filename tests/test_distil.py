"""Logit distillation: the loss against its formula, cache keys, teacher checks, a real distilled fine-tune."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pruning import (
    LABELS,
    FinetuneConfig,
    PruneConfig,
    VariantCache,
    VariantKey,
    build_variant,
    distillation_loss,
    teacher_candidates,
)
from pruning.cli import main
from pruning.distil import resolve_teacher
from tests.conftest import make_tiny_bert

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted((ROOT / "models" / "variants").glob("*/variant.json"))
# Small and fast, but long enough (48 steps) for the loss to fall clearly.
QUICK = {"epochs": 3, "learning_rate": 3e-3, "batch_size": 16, "max_train_samples": 256, "max_eval_samples": 64}
# FinetuneConfig.to_dict() before distillation existed: the cache key of every plain variant.
PLAIN_KEYS = [
    "batch_size",
    "dataset",
    "epochs",
    "eval_steps",
    "learning_rate",
    "max_eval_samples",
    "max_length",
    "max_train_samples",
    "mixed_precision",
    "seed",
    "warmup_ratio",
    "weight_decay",
]


# --- the loss -------------------------------------------------------------------------------------------


def test_distillation_loss_alpha_one_is_plain_cross_entropy():
    torch.manual_seed(0)
    student, teacher, labels = torch.randn(8, 12), torch.randn(8, 12), torch.randint(0, 12, (8,))
    loss = distillation_loss(student, teacher, labels, alpha=1.0, temperature=3.0)
    assert loss.item() == pytest.approx(F.cross_entropy(student, labels).item(), rel=1e-6)


def test_distillation_loss_alpha_zero_is_t_squared_kl_of_teacher_to_student():
    torch.manual_seed(1)
    student, teacher, labels = torch.randn(5, 12), torch.randn(5, 12), torch.randint(0, 12, (5,))
    t = 2.5
    p_teacher = torch.softmax(teacher / t, -1)
    kl = (p_teacher * (torch.log(p_teacher) - torch.log_softmax(student / t, -1))).sum(-1).mean()
    loss = distillation_loss(student, teacher, labels, alpha=0.0, temperature=t)
    assert loss.item() == pytest.approx(t**2 * kl.item(), rel=1e-5)
    assert distillation_loss(teacher, teacher, labels, alpha=0.0).item() == pytest.approx(0.0, abs=1e-6)


def test_distillation_loss_matches_a_hand_computed_example():
    # One headline, two classes: student undecided (0, 0), teacher sure of class 0 (2, 0), label 0, T = 2.
    ce = math.log(2)  # -log(1/2)
    p = math.e / (math.e + 1)  # teacher at T=2: softmax(1, 0)
    kl = p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5)  # 0.1109...
    want = 0.5 * ce + 0.5 * 4 * kl  # alpha 0.5, T^2 = 4: 0.5685
    got = distillation_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([0]), 0.5, 2.0)
    assert got.item() == pytest.approx(want, rel=1e-6) and want == pytest.approx(0.5685, abs=1e-4)


def test_distillation_loss_is_fp32_and_trains_only_the_student():
    student = torch.randn(3, 12, dtype=torch.bfloat16, requires_grad=True)
    teacher = torch.randn(3, 12, dtype=torch.bfloat16)
    loss = distillation_loss(student, teacher, torch.tensor([0, 4, 11]))
    loss.backward()
    assert loss.dtype == torch.float32 and student.grad is not None and student.grad.abs().sum() > 0


# --- config and cache keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values,message",
    [
        ({"distil_alpha": 1.5}, r"distil_alpha must be in \[0, 1\], got 1.5"),
        ({"distil_alpha": -0.1}, r"distil_alpha must be in \[0, 1\], got -0.1"),
        ({"distil_temperature": 0}, "distil_temperature must be > 0, got 0"),
        ({"distil_from": " "}, "distil_from must be a cached variant name"),
    ],
)
def test_finetune_config_distil_values_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        FinetuneConfig(**values)


def test_finetune_config_without_teacher_keeps_the_old_key_dict():
    assert sorted(FinetuneConfig().to_dict()) == PLAIN_KEYS
    # alpha and T mean nothing without a teacher: they must not split the cache of plain variants
    assert FinetuneConfig(distil_alpha=0.2, distil_temperature=4).to_dict() == FinetuneConfig().to_dict()
    assert FinetuneConfig(distil_alpha=0.2).fingerprint() == FinetuneConfig().fingerprint()
    taught = FinetuneConfig(distil_from="t__full", distil_alpha=0.2)
    assert taught.to_dict()["distil_from"] == "t__full" and taught.to_dict()["distil_alpha"] == 0.2
    assert FinetuneConfig.from_dict(taught.to_dict()) == taught


@pytest.mark.parametrize("record_file", BUNDLED, ids=lambda p: p.parent.name)
def test_bundled_variants_keys_are_unchanged(record_file):
    """The app's bundled variants are found by key: the key rebuilt from today's config must name their folder."""
    key = json.loads(record_file.read_text(encoding="utf-8"))["key"]
    finetune = FinetuneConfig.from_dict(key["finetune"]).to_dict()
    assert finetune == key["finetune"]
    rebuilt = VariantKey.create(
        key["base_model"], key["revision"], key["strategy"], key["kept_layers"], key["num_layers"], finetune
    )
    assert rebuilt.dirname == record_file.parent.name


def test_bundled_variants_exist():
    assert len(BUNDLED) >= 3  # otherwise the key test above checks nothing


# --- bad teachers ---------------------------------------------------------------------------------------


def _fake_teacher(cache: VariantCache, tokenizer, *, dataset: str = "SHC", labels=LABELS, seed: int = 0) -> str:
    """A saved 'fine-tuned' variant without training: all the teacher checks read is its key, config, tokenizer."""
    model = make_tiny_bert(len(tokenizer), layers=2, seed=seed)
    model.config.id2label = dict(enumerate(labels))
    model.config.label2id = {name: i for i, name in enumerate(labels)}
    train = FinetuneConfig(dataset=dataset, seed=seed)
    key = VariantKey.create("fake-base", "r0", "full", [0, 1], 2, train.to_dict())
    return cache.save(key, model, tokenizer, {"test_metrics": {"accuracy": 0.5}}).name


@pytest.fixture
def other_vocabulary(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    tok.add_tokens(["नवीनशब्दसंग्रह"])  # one token more: the same text may now map to other ids
    return tok


@pytest.mark.parametrize("problem", ["missing", "other dataset", "other labels", "other vocabulary"])
def test_cli_bad_teacher_is_one_line_and_exit_2(problem, capsys, tmp_path, tiny_base_dir, tokenizer, other_vocabulary):
    cache = VariantCache(tmp_path / "cache")
    name = {
        "missing": lambda: "no-such-teacher",
        "other dataset": lambda: _fake_teacher(cache, tokenizer, dataset="LPC"),
        "other labels": lambda: _fake_teacher(cache, tokenizer, labels=[*LABELS[1:], LABELS[0]]),
        "other vocabulary": lambda: _fake_teacher(cache, other_vocabulary),
    }[problem]()
    argv = ["finetune", "--model", str(tiny_base_dir), "--strategy", "top", "--keep", "2", "--distil-from", name]
    code = main([*argv, "--max-train-samples", "16", "--epochs", "1", "--cache-dir", str(cache.root)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    expected = {
        "missing": "error: teacher variant 'no-such-teacher' cannot be used: no cached variant matches",
        "other dataset": "was fine-tuned on LPC, the student on SHC",
        "other labels": "not MahaNews's",
        "other vocabulary": "has another vocabulary (3,",
    }[problem]
    assert expected in err
    assert all(p.name.startswith("fake-base__") for p in cache.root.glob("*"))  # nothing was trained or written


def test_teacher_with_fewer_positions_than_the_batches_is_refused(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    teacher = resolve_teacher(_fake_teacher(cache, tokenizer), "SHC", cache)
    teacher.check_student(tokenizer, max_length=128)  # the tiny model's 128 positions: fine
    with pytest.raises(ValueError, match="reads at most 128 tokens but the student trains on up to 256"):
        teacher.check_student(tokenizer, max_length=256)


def test_teacher_prefix_matching_two_variants_is_refused(tmp_path, tokenizer):
    cache = VariantCache(tmp_path)
    _fake_teacher(cache, tokenizer, seed=0)
    _fake_teacher(cache, tokenizer, seed=1)
    with pytest.raises(ValueError, match="2 cached variants match 'fake-base'; give more of the name"):
        resolve_teacher("fake-base", "SHC", cache)


# --- a real distilled fine-tune -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return VariantCache(tmp_path_factory.mktemp("distil-variants"))


@pytest.fixture(scope="module")
def teacher(tiny_base_dir, cache):
    return build_variant(str(tiny_base_dir), None, FinetuneConfig(**QUICK), cache=cache, show_progress=False)


@pytest.fixture(scope="module")
def distilled(tiny_base_dir, cache, teacher):
    events = []
    prefix = teacher.record["name"][:-4]  # a unique prefix, as a user may type it
    train = FinetuneConfig(**QUICK, distil_from=prefix, distil_alpha=0.3, distil_temperature=3.0)
    variant = build_variant(
        str(tiny_base_dir),
        PruneConfig("middle", keep=2),
        train,
        cache=cache,
        on_event=events.append,
        show_progress=False,
    )
    return variant, events


def test_distilled_finetune_runs_and_its_loss_decreases(distilled):
    variant, events = distilled
    losses = [e.loss for e in events if e.kind == "step"]
    assert not variant.from_cache and len(losses) == 48
    first, last = sum(losses[:12]) / 12, sum(losses[-12:]) / 12  # batches differ: compare quarter means
    assert last < 0.98 * first, losses  # measured: 0.756 -> 0.719 (CPU, fp32)
    assert variant.record["test_metrics"]["num_examples"] == 716  # tested on the whole held-back split


def test_distilled_record_names_its_teacher(distilled, teacher):
    record = distilled[0].record
    name = teacher.record["name"]
    assert record["distillation"] == {
        "teacher": name,
        "teacher_digest": name.rsplit("__", 1)[1],
        "teacher_base_model": teacher.record["key"]["base_model"],
        "teacher_strategy": "full",
        "teacher_layers": 4,
        "teacher_test_accuracy": teacher.test_accuracy,
        "alpha": 0.3,
        "temperature": 3.0,
    }
    # the key holds the teacher's full name (its digest), not the prefix typed and not a path
    assert record["key"]["finetune"]["distil_from"] == name and "/" not in name
    assert record["finetune_config"]["distil_from"] == name
    assert "distillation" not in teacher.record


def test_distilled_variant_is_a_cache_hit_by_prefix_or_full_name(distilled, teacher, tiny_base_dir, cache, capsys):
    variant, _ = distilled
    again = build_variant(
        str(tiny_base_dir),
        PruneConfig("middle", keep=2),
        FinetuneConfig(**QUICK, distil_from=teacher.record["name"], distil_alpha=0.3, distil_temperature=3.0),
        cache=cache,
        show_progress=False,
    )
    assert again.from_cache and again.record["name"] == variant.record["name"]
    config = Path(cache.root) / "finetune.json"
    config.write_text(json.dumps({"finetune": {**QUICK, "distil_alpha": 0.3}}))
    argv = ["finetune", "--model", str(tiny_base_dir), "--strategy", "middle", "--keep", "2", "--config", str(config)]
    code = main(
        [
            *argv,
            "--distil-from",
            teacher.record["name"][:-4],
            "--distil-temperature",
            "3",
            "--cache-dir",
            str(cache.root),
        ]
    )
    printed = json.loads(capsys.readouterr().out)
    assert code == 0 and printed["from_cache"] and printed["variant"] == variant.record["name"]
    assert printed["distillation"]["teacher"] == teacher.record["name"]


def test_other_alpha_is_another_variant_and_plain_key_has_no_teacher(distilled, teacher):
    variant, _ = distilled
    key = variant.record["key"]
    plain = FinetuneConfig(**QUICK).to_dict()
    assert {k: v for k, v in key["finetune"].items() if not k.startswith("distil")} == plain
    other = VariantKey.from_dict({**key, "finetune": {**key["finetune"], "distil_alpha": 0.5}})
    assert other.dirname != variant.record["name"]


def test_teacher_candidates_lists_full_label_trained_variants(distilled, teacher, tiny_base_dir, cache):
    names = [r["name"] for r in teacher_candidates(str(tiny_base_dir), "shc", cache)]
    assert names == [teacher.record["name"]]  # not the distilled student, which is pruned
    assert teacher_candidates(str(tiny_base_dir), "LPC", cache) == []
    assert teacher_candidates("offline-teacher", "SHC", cache) == []


def test_teacher_candidates_include_bundled_full_variants(tmp_path):
    cache = VariantCache(tmp_path, bundled=ROOT / "models" / "variants")
    names = [r["name"] for r in teacher_candidates("offline-teacher", "SHC", cache)]
    assert names == ["offline-teacher__full-k12-0.1.2.3.4.5.6.7.8.9.10.11__SHC__s0__301b990c11"]
