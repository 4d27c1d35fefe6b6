"""The loader on the real, faulty MahaNews validation files in ../shared."""

import shutil

import pytest

from pruning import LABELS, DataNotFoundError, load_mahanews, normalise_text, repair_mojibake
from tests.conftest import MAHANEWS_DIR


def test_load_mahanews_shc_counts_on_real_file(shc):
    data, report = shc
    file = report.files["validation"]
    assert file.rows_read == 2761  # 2,750 headlines + 11 repeated header rows
    assert file.header_rows_dropped == 11
    assert file.mojibake_repaired == 146
    assert file.empty_dropped == 0
    assert file.duplicates_dropped == 350 and file.conflicting_labels_dropped == 14
    assert file.rows_kept == 2386 == sum(report.split_rows.values())
    assert report.split_rows == {"train": 1431, "validation": 239, "test": 716}
    assert data["train"].features["label"].names == list(LABELS)


def test_load_mahanews_lpc_drops_empty_paragraphs_and_header_rows():
    data, report = load_mahanews("LPC", MAHANEWS_DIR)
    file = report.files["validation"]
    assert file.header_rows_dropped == 11  # LPC repeats ",Label" with an empty text
    assert file.empty_dropped == 209
    assert file.rows_kept == 2440
    assert min(len(t) for t in data["train"]["text"]) > 0


def test_load_mahanews_output_is_clean(shc):
    data, _ = shc
    texts = [t for split in data.values() for t in split["text"]]
    assert not any("\u00a0" in t or "\u200b" in t or "рд" in t for t in texts)
    assert len(set(texts)) == len(texts)  # no duplicates, no text in two splits


def test_load_mahanews_repaired_rows_are_in_the_dataset(shc):
    import pandas as pd

    data, _ = shc
    raw = pd.read_csv(MAHANEWS_DIR / "SHC" / "SHC_Valid.csv", dtype=str, keep_default_na=False)
    broken = [t for t in raw["Text"] if "рд" in t]
    assert len(broken) == 146
    texts = {t for split in data.values() for t in split["text"]}
    fixed = [normalise_text(t.encode("cp866").decode("utf-8")) for t in broken]
    assert sum(t in texts for t in fixed) >= 120  # the rest were duplicates of clean rows


def test_load_mahanews_stratified_split_is_seeded_and_said(shc):
    data, report = shc
    again, _ = load_mahanews("SHC", MAHANEWS_DIR)
    assert data["test"]["text"] == again["test"]["text"]
    assert "stratified" in report.notes[0] and "SHC_Valid.csv" in report.notes[0]
    train_share = data["train"]["label"].count(LABELS.index("Travel")) / len(data["train"])
    test_share = data["test"]["label"].count(LABELS.index("Travel")) / len(data["test"])
    assert abs(train_share - test_share) < 0.02


def test_repair_mojibake_round_trips_cp866():
    original = "महाराष्ट्रात पाऊस"
    broken = original.encode("utf-8").decode("cp866")
    assert broken.startswith("р")
    assert repair_mojibake(broken) == (original, True)
    assert repair_mojibake(original) == (original, False)
    assert repair_mojibake("Привет мир") == ("Привет мир", False)  # real Cyrillic is left alone


def test_normalise_text_keeps_zwj_drops_zwsp_and_nbsp():
    assert normalise_text("  र्\u200dया\u00a0नंतर\u200b  ") == "र्\u200dया नंतर"


def test_load_mahanews_missing_data_says_where_it_looked(tmp_path):
    with pytest.raises(DataNotFoundError, match="LDC_Train/Valid/Test.csv.*MAHANEWS_DIR"):
        load_mahanews("LDC", MAHANEWS_DIR)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_mahanews("SHC", tmp_path / "nope")


def test_load_mahanews_uses_official_splits_when_present(tmp_path):
    (tmp_path / "SHC").mkdir()
    for split in ("Train", "Valid", "Test"):
        shutil.copy(MAHANEWS_DIR / "SHC" / "SHC_Valid.csv", tmp_path / "SHC" / f"SHC_{split}.csv")
    data, report = load_mahanews("SHC", tmp_path)
    assert not any("stratified" in n for n in report.notes)
    # identical files: every test text also sits in train and validation, and must be dropped there
    assert len(data["test"]) == 2386 and len(data["train"]) == 0
    assert any("also in test" in n for n in report.notes)


def test_load_mahanews_rejects_unknown_dataset():
    with pytest.raises(ValueError, match="valid: SHC, LPC, LDC"):
        load_mahanews("XYZ", MAHANEWS_DIR)


def test_load_mahanews_small_file_with_a_rare_label_still_splits(tmp_path):
    from pruning import load_mahanews

    rows = [f"बातमी क्रमांक {i},{'Sports' if i % 2 else 'Politics'}" for i in range(40)] + ["एकच बातमी,Tech"]
    (tmp_path / "SHC").mkdir()
    (tmp_path / "SHC" / "SHC_Valid.csv").write_text("Text,Label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data, report = load_mahanews("SHC", tmp_path, download=False)
    assert sum(report.split_rows.values()) == 41 and min(report.split_rows.values()) >= 4
    assert not set(data["train"]["text"]) & set(data["test"]["text"])
