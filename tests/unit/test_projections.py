"""The pure projectors and the runner, folded in memory."""

from __future__ import annotations

import json

from projections import BUILTIN_PROJECTORS, ProjectionRunner
from projections.fold import InMemoryViews, fold
from signalstore_es.domain.events import (
    BlobPurged,
    DomainModelAdded,
    DomainModelRemoved,
    RecordPurged,
    RecordRemoved,
    RecordRestored,
)
from signalstore_es.domain.keys import RecordKey
from signalstore_es.testing.contracts import chain, record_added

KEY = RecordKey(schema_ref="session", data_name="s1")


def test_an_added_record_row_carries_its_key_fields_and_time_of_save():
    commits = chain((record_added("s1"),))
    (row,) = fold(commits, BUILTIN_PROJECTORS).documents("records")
    assert (row["schema_ref"], row["data_name"], row["version_timestamp"], row["has_file"],
            row["time_of_save"], row["time_of_removal"]) == ("session", "s1", 0, False, commits[0].committed_at, None)


def test_remove_sets_time_of_removal_to_the_commit_time():
    commits = chain((record_added("s1"),), (RecordRemoved(key=KEY, generation=1),))
    (row,) = fold(commits, BUILTIN_PROJECTORS).documents("records")
    assert row["time_of_removal"] == commits[1].committed_at


def test_restore_clears_time_of_removal():
    commits = chain((record_added("s1"),), (RecordRemoved(key=KEY, generation=1),),
                    (RecordRestored(key=KEY, generation=1),))
    (row,) = fold(commits, BUILTIN_PROJECTORS).documents("records")
    assert row["time_of_removal"] is None


def test_purge_deletes_the_generation_row():
    commits = chain((record_added("s1"),), (RecordRemoved(key=KEY, generation=1),),
                    (RecordPurged(key=KEY, generation=1),))
    assert fold(commits, BUILTIN_PROJECTORS).documents("records") == []


def test_a_re_added_key_is_a_new_generation_beside_the_removed_one():
    commits = chain((record_added("s1", notes="old"),), (RecordRemoved(key=KEY, generation=1), record_added("s1", notes="new")))
    rows = sorted(fold(commits, BUILTIN_PROJECTORS).documents("records"), key=lambda r: r["_generation"])
    assert [(r["session_notes"], r["time_of_removal"] is None) for r in rows] == [("old", False), ("new", True)]


def test_removing_a_model_marks_it_removed_and_adding_it_again_revives_it():
    added = DomainModelAdded(schema_name="m", model={"schema_name": "m"}, json_schema=json.dumps({"type": "object"}))
    commits = chain((added,), (DomainModelRemoved(schema_name="m"),), (added,))
    (row,) = fold(commits, BUILTIN_PROJECTORS).documents("domain_models")
    assert row["time_of_removal"] is None and row["json_schema"] == {"type": "object"}


def test_purged_blobs_are_tracked_until_the_address_is_written_again():
    address = "blake3:" + "c" * 64
    purged = fold(chain((BlobPurged(address=address),)), BUILTIN_PROJECTORS).documents("purged_blobs")
    rewritten = fold(chain((BlobPurged(address=address),), (record_added("s1", address=address),)),
                     BUILTIN_PROJECTORS).documents("purged_blobs")
    assert [r["address"] for r in purged] == [address] and rewritten == []


def test_reapplying_commits_already_applied_changes_nothing():
    commits = chain((record_added("s1"),), (RecordRemoved(key=KEY, generation=1),))
    views = fold(commits, BUILTIN_PROJECTORS)
    before = views.documents("records")
    views.checkpoints.clear()  # as if the runner died before writing its checkpoints
    ProjectionRunner(BUILTIN_PROJECTORS).apply(commits, views)
    assert views.documents("records") == before


def test_the_runner_reports_commits_and_events_replayed():
    commits = chain((record_added("s1"), record_added("s2")), (RecordRemoved(key=KEY, generation=1),))
    assert ProjectionRunner(BUILTIN_PROJECTORS).apply(commits, InMemoryViews()) == (2, 3)


def test_a_projector_skips_commits_before_its_checkpoint():
    commits = chain((record_added("s1"),), (record_added("s2"),))
    views = InMemoryViews()
    views.set_checkpoint("records", 1)
    ProjectionRunner(BUILTIN_PROJECTORS).apply(commits, views)
    assert [r["data_name"] for r in views.documents("records")] == ["s2"]
