"""The one cache root and the atomic writes every layer uses."""

import os

import pytest

from models import store


def test_home_follows_the_environment_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path / "a"))
    assert store.cache_dir("variants") == tmp_path / "a" / "variants"
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path / "b"))
    assert store.home() == tmp_path / "b"
    monkeypatch.delenv("MARATHI_PRUNE_HOME")
    assert store.home().parts[-2:] == (".cache", "marathi-prune")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("google/muril-base-cased", "google-muril-base-cased"), ("/tmp/x y/", "tmp-x-y"), ("///", "model")],
)
def test_slug_is_filesystem_safe(text, expected):
    assert store.slug(text) == expected


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "record.json"
    store.atomic_write_json(target, {"name": "मराठी"})
    store.atomic_write_json(target, {"name": "दुसरे"})
    assert "दुसरे" in target.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["record.json"]


def test_atomic_dir_failure_keeps_the_old_folder(tmp_path):
    final = tmp_path / "variant"
    with store.atomic_dir(final) as tmp:
        (tmp / "weights").write_text("v1")
    with pytest.raises(RuntimeError), store.atomic_dir(final) as tmp:
        (tmp / "weights").write_text("half")
        raise RuntimeError("killed mid-write")
    assert (final / "weights").read_text() == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["variant"]


def test_atomic_dir_replaces_existing_folder(tmp_path):
    final = tmp_path / "variant"
    for version in ("v1", "v2"):
        with store.atomic_dir(final) as tmp:
            (tmp / version).write_text(version)
    assert [p.name for p in final.iterdir()] == ["v2"]


def test_sweep_temp_removes_only_old_leftovers(tmp_path):
    old, fresh, kept = tmp_path / ".tmp-old", tmp_path / ".tmp-new", tmp_path / "variant"
    for folder in (old, fresh, kept):
        folder.mkdir()
    os.utime(old, (0, 0))
    assert store.sweep_temp(tmp_path, older_than_s=3600) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-new", "variant"]


def test_home_prefers_a_space_persistent_storage_but_not_over_the_environment(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(store, "SPACE_DATA", data)
    monkeypatch.setattr(store.os.path, "ismount", lambda path: os.fspath(path) == os.fspath(data))
    monkeypatch.delenv("MARATHI_PRUNE_HOME", raising=False)
    assert store.home() == data / "marathi-prune"
    assert store.cache_dir("variants") == data / "marathi-prune" / "variants"
    monkeypatch.setenv("MARATHI_PRUNE_HOME", str(tmp_path / "mine"))
    assert store.home() == tmp_path / "mine"


def test_home_ignores_data_that_is_not_a_writable_mount(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(store, "SPACE_DATA", data)
    monkeypatch.delenv("MARATHI_PRUNE_HOME", raising=False)
    assert store.persistent_storage() is None  # a plain folder is not a Space's storage
    monkeypatch.setattr(store.os.path, "ismount", lambda path: True)
    monkeypatch.setattr(store.os, "access", lambda path, mode: False)
    assert store.persistent_storage() is None
    assert store.home().parts[-2:] == (".cache", "marathi-prune")
