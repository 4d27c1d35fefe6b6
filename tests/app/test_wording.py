"""pruning.app.wording: how the app names layers, sizes and variants."""

from __future__ import annotations

from pruning.app import wording


def test_format_layers_gives_one_based_ranges():
    assert wording.format_layers([0, 1, 2, 9, 10, 11]) == "1–3, 10–12"
    assert wording.format_layers([4, 6, 7]) == "5, 7, 8"
    assert wording.format_layers([]) == "none"


def test_format_count_and_size_mb_read_as_people_write_them():
    assert wording.format_count(1_234_567) == "1.23 M" and wording.format_count(12_345) == "12.3 k"
    assert wording.format_count(None) == "–" and wording.format_count(float("nan")) == "–"
    assert wording.size_mb(1_000_000) == 4.0


def test_finetune_result_says_trained_or_loaded_and_where_it_is_saved():
    record = {
        "name": "v1",
        "device": "cpu",
        "majority_baseline_test": 0.125,
        "test_metrics": {"accuracy": 0.5, "macro_f1": 0.25, "num_examples": 8},
    }
    done = wording.finetune_result(record, from_cache=False, seconds=12.4)
    assert done.startswith("**Done** in 12 s on cpu") and "50.0%" in done and "Saved as `v1`" in done
    assert wording.finetune_result(record, from_cache=True, seconds=0).startswith("**Loaded from cache**")


def test_variant_kind_of_a_bundled_variant_is_its_bundle_role():
    scratch_folder = {"base_role": "base", "plan": {"keep": 2, "num_layers": 2}, "bundle": {"role": "scratch"}}
    assert wording.variant_kind(scratch_folder) == "scratch"


def test_no_data_message_says_in_one_sentence_where_the_files_go_and_offers_the_bundled_variants():
    text = wording.no_data_message("SHC")
    assert text.count(". ") == 0 and text.endswith(".")
    assert "MAHANEWS_DIR" in text and "SHC_Train.csv" in text and "bundled variants" in text
    assert " /" not in text and "~" not in text  # no server path, only the folder's place in the cache


def test_user_message_is_short_says_what_to_do_and_shows_no_server_path(caplog):
    from models import HubUnreachableError
    from models.loading import ModelNotFoundError
    from pruning import CacheEntryError, DataNotFoundError

    cases = {
        DataNotFoundError("no LDC files (LDC_Train/Valid/Test.csv) in /work/shared/data/mahanews; point ..."): "LDC",
        HubUnreachableError("cannot reach the Hub; cache at /root/.cache/huggingface"): "offline-teacher",
        ModelNotFoundError("offline model 'offline-small' is not built yet (/work/main/models/offline has no"): "built",
        CacheEntryError("x__top is damaged and could not be loaded; delete or rebuild it"): "Delete or rebuild",
        ValueError("bad file /etc/passwd\nTraceback (most recent call last):\n  File ..."): "bad file …",
        OSError("[Errno 13] Permission denied: '/root/.ssh/id_rsa'"): "Check the name",
        KeyError("/secret/key"): "went wrong on the server (KeyError)",
    }
    for exc, expected in cases.items():
        message = wording.user_message(exc)
        assert expected in message and "/work" not in message and "/root" not in message and "/etc" not in message
        assert "Traceback" not in message and len(message) <= wording.MAX_MESSAGE_CHARS, message
    assert any(r.exc_info for r in caplog.records)  # the unexpected one's traceback went to the log


def test_scrub_paths_keeps_urls_hub_ids_and_file_names():
    text = "see https://arxiv.org/abs/2501.00733, l3cube-pune/marathi-bert-v2, SHC_Train/Valid/Test.csv, 6/12"
    assert wording.scrub_paths(text) == text
    assert wording.scrub_paths("in /tmp/x/y; '~/a' C:\\Users\\me") == "in …; '…' …"


def test_format_duration_reads_as_people_say_it():
    assert [wording.format_duration(s) for s in (45, 200, 4000)] == ["45 s", "3 min", "1 h 07 min"]
