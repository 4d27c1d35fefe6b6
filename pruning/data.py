"""L3Cube-MahaNews loading that copes with the official files' faults.

The published CSVs (SHC headlines, LPC paragraphs, LDC documents) contain repeated header rows,
two header spellings (``Text,Label`` and ``text,labels``), empty texts, non-breaking spaces,
zero-width spaces, duplicate rows and UTF-8 text that was mis-decoded as CP866 (``рдорд╣...``).
``load_mahanews`` repairs or removes each of these, counts what it did, and returns a
``datasets.DatasetDict`` with a fixed 12-way ``ClassLabel``.

Where the files come from, in order: ``data_dir`` argument, ``$MAHANEWS_DIR``, the download cache
(``~/.cache/marathi-prune/mahanews``), the official GitHub repository (downloaded into the cache),
and last a sibling ``../shared/data/mahanews`` checkout. A missing split is carved out of what
exists with a stratified, seeded split, and the report says so.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value
from sklearn.model_selection import train_test_split

from models.store import atomic_write_bytes, cache_dir

logger = logging.getLogger(__name__)

# The order is the label id and must never change. Two aligned rows read better than twelve lines.
LABELS: tuple[str, ...] = (
    "Auto", "Bhakti", "Crime", "Education", "Fashion", "Health",
    "International", "Manoranjan", "Politics", "Sports", "Tech", "Travel",
)  # fmt: skip
SPLITS = ("train", "validation", "test")
_FILE_SPLIT = {"train": "Train", "validation": "Valid", "test": "Test"}
_HEADER_VALUES = {"text", "label", "labels"}
GITHUB_RAW = "https://raw.githubusercontent.com/l3cube-pune/MarathiNLP/main/L3Cube-MahaNews/{name}/{name}_{split}.csv"
SIBLING_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mahanews"
# Share of the pool that becomes each missing split. The official full splits are 80/10/10, but only the
# validation files are at hand offline (2,386 clean SHC headlines): a 10% test split (239 headlines) moves
# by ~3 points per seed and cannot separate 2-point differences, so offline the test split is 30%.
SPLIT_FRACTIONS: dict[str, float] = {"validation": 0.1, "test": 0.3}
SPLIT_SEED = 42

_MOJIBAKE = re.compile("[\u0400-\u04ff\u2500-\u257f]{3,}")  # Cyrillic / box drawing runs
_DEVANAGARI = re.compile("[\u0900-\u097f]")
_DROP_CHARS = dict.fromkeys(map(ord, "\u200b\ufeff\u2060\u00ad"))  # ZWSP, BOM, word joiner, soft hyphen
_SPACE_CHARS = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u3000"), " ")  # NBSP & co. -> space
_WHITESPACE = re.compile(r"\s+")


class DataNotFoundError(FileNotFoundError):
    """No MahaNews files for the requested dataset in any known location."""


@dataclass
class SplitReport:
    """What cleaning one split did, in rows."""

    source: str
    rows_read: int = 0
    header_rows_dropped: int = 0
    mojibake_repaired: int = 0
    mojibake_unrepaired_dropped: int = 0
    characters_normalised: int = 0
    empty_dropped: int = 0
    unknown_label_dropped: int = 0
    duplicates_dropped: int = 0
    conflicting_labels_dropped: int = 0
    rows_kept: int = 0


@dataclass
class CleaningReport:
    """Cleaning counts per file read, final rows per split, and notes on splits that were made."""

    dataset: str
    data_dir: str
    files: dict[str, SplitReport] = field(default_factory=dict)  # keyed by the split the file holds
    split_rows: dict[str, int] = field(default_factory=dict)
    split_sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "files": {name: vars(rep) for name, rep in self.files.items()},
            "split_rows": dict(self.split_rows),
            "split_sources": dict(self.split_sources),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        parts = [f"{name}: {rows} rows" for name, rows in self.split_rows.items()]
        return f"{self.dataset} ({', '.join(parts)})" + "".join(f"; {note}" for note in self.notes)


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8 bytes shown as CP866 (``рдорд╣`` -> ``मह``); returns (text, repaired?)."""
    if not _MOJIBAKE.search(text):
        return text, False
    try:
        fixed = text.encode("cp866").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text, False
    return (fixed, True) if _DEVANAGARI.search(fixed) else (text, False)


def normalise_text(text: str) -> str:
    """NFC, NBSP -> space, drop invisible characters, collapse whitespace.

    ZWJ/ZWNJ (U+200D/U+200C) are kept: in Marathi they select conjunct shapes (e.g. eyelash ra).
    """
    text = unicodedata.normalize("NFC", text.translate(_SPACE_CHARS).translate(_DROP_CHARS))
    return _WHITESPACE.sub(" ", text).strip()


class DataFileError(ValueError):
    """A MahaNews file that exists but cannot be used; the message names the file, not its folder."""


def _read_raw(path: Path) -> pd.DataFrame:
    """The first two columns of a CSV as strings, named text and label; DataFileError if unusable."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", on_bad_lines="warn")
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path.name} is empty; expected a CSV with a header and text,label rows") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path.name} is not UTF-8 text; expected a CSV with text,label rows") from None
    except pd.errors.ParserError as exc:
        raise DataFileError(f"{path.name} is not a readable CSV ({str(exc).splitlines()[0]})") from None
    if frame.shape[1] < 2:
        raise DataFileError(f"{path.name} has {frame.shape[1]} column(s); expected two: text and label")
    if frame.empty:
        raise DataFileError(f"{path.name} has a header but no rows")
    frame = frame.iloc[:, :2]
    frame.columns = ["text", "label"]
    return frame


def clean_frame(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, SplitReport]:
    """Apply every repair to one raw split; see the module docstring for the faults handled."""
    rep = SplitReport(source=source, rows_read=len(frame))
    frame = frame.copy()
    frame["label"] = frame["label"].str.strip()
    # Repeated header rows: SHC repeats "Text,Label", LPC repeats ",Label" (empty text).
    headers = frame["label"].str.lower().isin(_HEADER_VALUES)
    rep.header_rows_dropped = int(headers.sum())
    frame = frame[~headers]

    texts, repaired, changed, broken = [], 0, 0, []
    for raw in frame["text"]:
        text, was_fixed = repair_mojibake(raw)
        repaired += was_fixed
        if not was_fixed and _MOJIBAKE.search(text) and not _DEVANAGARI.search(text):
            broken.append(True)  # mojibake we could not undo: unreadable, drop it
        else:
            broken.append(False)
        clean = normalise_text(text)
        changed += (clean != text.strip()) and not was_fixed
        texts.append(clean)
    frame["text"] = texts
    rep.mojibake_repaired, rep.characters_normalised = repaired, changed
    broken_mask = pd.Series(broken, index=frame.index)
    rep.mojibake_unrepaired_dropped = int(broken_mask.sum())
    frame = frame[~broken_mask]

    empty = frame["text"].str.len() == 0
    rep.empty_dropped = int(empty.sum())
    frame = frame[~empty]
    unknown = ~frame["label"].isin(LABELS)
    rep.unknown_label_dropped = int(unknown.sum())
    if rep.unknown_label_dropped:
        logger.warning("%s: dropped %d rows with labels outside %s", source, rep.unknown_label_dropped, LABELS)
    frame = frame[~unknown]

    before = len(frame)
    frame = frame.drop_duplicates(subset=["text", "label"])
    rep.duplicates_dropped = before - len(frame)
    conflicted = frame.duplicated(subset=["text"], keep=False)  # same text, different labels
    rep.conflicting_labels_dropped = int(conflicted.sum())
    frame = frame[~conflicted].reset_index(drop=True)
    rep.rows_kept = len(frame)
    return frame, rep


def _find_local(name: str, split: str, roots: list[Path]) -> Path | None:
    file = f"{name}_{_FILE_SPLIT[split]}.csv"
    for root in roots:
        for candidate in (root / name / file, root / file):
            if candidate.is_file():
                return candidate
    return None


def _download(name: str, split: str) -> Path | None:
    """Fetch one official CSV into the cache; None when the repository is unreachable or lacks it."""
    target = cache_dir("mahanews") / name / f"{name}_{_FILE_SPLIT[split]}.csv"
    url = GITHUB_RAW.format(name=name, split=_FILE_SPLIT[split])
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            payload = response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        logger.info("could not download %s: %s", url, exc)
        return None
    return atomic_write_bytes(target, payload)  # never leave a half-written CSV in the cache


def _locate(name: str, data_dir: str | os.PathLike | None, download: bool) -> tuple[dict[str, Path], str]:
    """Find the dataset's CSVs: explicit folder, $MAHANEWS_DIR, download cache, GitHub, sibling shared/."""
    explicit = data_dir if data_dir is not None else os.environ.get("MAHANEWS_DIR") or None
    if explicit is not None:
        if not Path(explicit).exists():
            raise DataNotFoundError(
                f"MahaNews folder {explicit} does not exist; check data_dir (CLI: --data-dir) or MAHANEWS_DIR"
            )
        places = [[Path(explicit)]]
    else:
        places = [[cache_dir("mahanews")], "github", [SIBLING_DIR]]
    looked: list[str] = []
    for place in places:
        if place == "github":
            if not download:
                continue
            looked.append("the L3Cube GitHub repository (unreachable or missing the files)")
            found = {}
            for split in SPLITS:
                path = _download(name, split)
                if path is None and not found:
                    break  # first file failed: the network is down, don't wait on the others
                if path is not None:
                    found[split] = path
        else:
            looked += [str(root) for root in place]
            found = {split: path for split in SPLITS if (path := _find_local(name, split, place))}
        if found:
            return found, str(next(iter(found.values())).parent)
    raise DataNotFoundError(
        f"no {name} files ({name}_Train/Valid/Test.csv) in {'; '.join(looked)}; "
        "point data_dir (CLI: --data-dir) or MAHANEWS_DIR at a folder holding them"
    )


MIN_ROWS_TO_SPLIT = 20  # below this, train/validation/test splits would be a few rows each


def _stratified(frame: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split off ``fraction`` of ``frame``, stratified by label when every label has enough rows."""
    counts = frame["label"].value_counts()
    n_carved = round(len(frame) * fraction)
    stratify = frame["label"] if counts.min() >= 2 and len(counts) <= n_carved <= len(frame) - len(counts) else None
    rest, carved = train_test_split(frame, test_size=fraction, random_state=seed, stratify=stratify)
    return rest.reset_index(drop=True), carved.reset_index(drop=True)


def load_mahanews(
    name: str = "SHC",
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    seed: int = SPLIT_SEED,
) -> tuple[DatasetDict, CleaningReport]:
    """Load and clean one MahaNews dataset.

    Args:
        name: "SHC", "LPC" or "LDC".
        data_dir: folder with ``<name>/<name>_{Train,Valid,Test}.csv`` (or the files directly).
        download: try the official repository when nothing local is found.
        seed: seed of the stratified split used to fill in missing splits.

    Returns:
        (DatasetDict with train/validation/test and columns text, label), CleaningReport.

    Raises:
        DataNotFoundError: no file for this dataset anywhere, with a hint how to fix it.
        ValueError: unknown dataset name or a malformed file.
    """
    name = name.upper()
    if name not in ("SHC", "LPC", "LDC"):
        raise ValueError(f"unknown MahaNews dataset {name!r}; valid: SHC, LPC, LDC")
    paths, root = _locate(name, data_dir, download)
    report = CleaningReport(dataset=name, data_dir=root)
    frames: dict[str, pd.DataFrame] = {}
    for split, path in paths.items():
        frames[split], report.files[split] = clean_frame(_read_raw(path), source=str(path))
        report.split_sources[split] = path.name

    _fill_missing_splits(frames, report, seed)
    _drop_overlap(frames, report)
    report.split_rows = {split: len(frames[split]) for split in SPLITS}
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(LABELS))})
    dataset = DatasetDict(
        {
            split: Dataset.from_dict(
                {"text": frames[split]["text"].tolist(), "label": [LABELS.index(x) for x in frames[split]["label"]]},
                features=features,
            )
            for split in SPLITS
        }
    )
    logger.info("loaded %s", report.summary())
    return dataset, report


def _fill_missing_splits(frames: dict[str, pd.DataFrame], report: CleaningReport, seed: int) -> None:
    """Carve each missing split out of a pool, stratified by label (``SPLIT_FRACTIONS`` of the pool).

    The pool is the training split when there is one; otherwise the largest split present, which
    then also supplies train (e.g. only ``*_Valid.csv`` -> 60/10/30 train/validation/test of it).
    """
    missing = [s for s in SPLITS if s not in frames]
    if not missing:
        return
    pool_name = "train" if "train" in frames else max(frames, key=lambda s: len(frames[s]))
    pool = frames.pop(pool_name)
    pool_size, pool_file = len(pool), report.split_sources.pop(pool_name)
    if pool_size < MIN_ROWS_TO_SPLIT:
        raise DataFileError(
            f"{pool_file} has {pool_size} usable rows after cleaning; at least {MIN_ROWS_TO_SPLIT} are needed "
            f"to make the missing {'/'.join(missing)} split(s)"
        )
    to_carve = [s for s in SPLITS if s != "train" and (s in missing or s == pool_name)]
    carved = 0.0
    for i, split in enumerate(to_carve):
        fraction = SPLIT_FRACTIONS[split]
        share = fraction / (1 - carved)  # each carve is its fraction of the original pool
        pool, frames[split] = _stratified(pool, share, seed + i)
        carved += fraction
        report.split_sources[split] = f"stratified {fraction:.0%} of {pool_file}"
    frames["train"] = pool
    report.split_sources["train"] = pool_file if pool_name == "train" else f"remaining {len(pool)} rows of {pool_file}"
    report.split_sources = {s: report.split_sources[s] for s in SPLITS}
    report.notes.append(
        f"no {'/'.join(missing)} file: made {', '.join(to_carve + ([] if pool_name == 'train' else ['train']))} "
        f"from the {pool_size} cleaned rows of {pool_file} (stratified, seed {seed})"
    )


def _drop_overlap(frames: dict[str, pd.DataFrame], report: CleaningReport) -> None:
    """A text in test (or validation) must not also be trained on; drop it from the larger side."""
    for held_out in ("test", "validation"):
        seen = set(frames[held_out]["text"])
        for split in ("train", "validation") if held_out == "test" else ("train",):
            overlap = frames[split]["text"].isin(seen)
            if overlap.any():
                frames[split] = frames[split][~overlap].reset_index(drop=True)
                report.notes.append(f"dropped {int(overlap.sum())} {split} rows whose text is also in {held_out}")
