"""pruning.app.bases: which base models a visitor may name, and their depth without a download."""

from __future__ import annotations

import os

import pytest

from models import CATALOG
from pruning.app import bases


def test_check_base_name_accepts_catalog_hub_ids_and_the_operators_folders(tmp_path):
    allowed = tmp_path / "models"
    (allowed / "mine").mkdir(parents=True)
    env = {bases.MODEL_DIRS_ENV: f"{tmp_path / 'elsewhere'}{os.pathsep}{allowed}", bases.DEFAULT_MODEL_ENV: "/srv/x"}
    for name in [*CATALOG, "l3cube-pune/marathi-bert-v2", "someone/some-bert", str(allowed / "mine"), "/srv/x"]:
        assert bases.check_base_name(f" {name} ", env) == name


@pytest.mark.parametrize(
    "name",
    ["/root/.ssh", "/etc/shadow", "/etc", "qwertyuiop", "~/.ssh", "../models", "a/b/c", ".hidden/x", "x/..", "/etc/\0"],
)
def test_check_base_name_refuses_everything_else_with_one_message(tmp_path, name):
    allowed = tmp_path / "models"
    allowed.mkdir()
    env = {bases.MODEL_DIRS_ENV: str(allowed)}
    with pytest.raises(bases.BaseNotAllowedError) as caught:
        bases.check_base_name(name, env)
    assert str(caught.value) == bases.NOT_ALLOWED


def test_check_base_name_keeps_links_and_dotdot_inside_the_model_dirs(tmp_path):
    allowed = tmp_path / "models"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/etc")
    env = {bases.MODEL_DIRS_ENV: str(allowed)}
    for name in (str(allowed / "escape"), f"{allowed}/../../etc"):
        with pytest.raises(bases.BaseNotAllowedError):
            bases.check_base_name(name, env)
    with pytest.raises(bases.BaseNotAllowedError):  # no folder is accepted when no directory is listed
        bases.check_base_name(str(allowed), {})


def test_a_hub_id_that_is_also_a_folder_here_is_never_read_as_that_folder(tmp_path, monkeypatch):
    (tmp_path / "owner" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(bases.HubOnlyError):
        bases.check_base_name("owner/model", {})
    assert bases.check_base_name("owner/other", {}) == "owner/other"


def test_base_depth_comes_from_the_catalog_without_loading():
    def never(name):
        raise AssertionError("no load expected")

    assert {n: bases.base_depth(n, never) for n in CATALOG} == {n: s.num_layers for n, s in CATALOG.items()}
    assert bases.base_depth("someone/x", lambda n: type("A", (), {"num_layers": 3})()) == 3
