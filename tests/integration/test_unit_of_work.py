"""The unit of work: staging, atomic commit, rollback, receipts, concurrency (every backend)."""

from __future__ import annotations

import pytest

from signalstore_es import (
    AlreadyExistsError,
    ConcurrencyError,
    UnitOfWorkStateError,
    ValidationError,
)
from signalstore_es.testing import vocabulary as vocab
from tests.conftest import spike_times


def test_repositories_are_unreachable_outside_the_with_block(store, project):
    uow = store(project)
    with pytest.raises(UnitOfWorkStateError, match="not open"):
        uow.data.find()


def test_leaving_without_commit_persists_nothing(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
    with store(project) as uow:
        assert uow.data.get("session", "s1") is None


def test_an_exception_in_the_block_persists_nothing_and_propagates(store, project):
    with pytest.raises(RuntimeError, match="boom"):
        with store(project) as uow:
            uow.data.add(vocab.session_record("s1", animal="Animal1"))
            raise RuntimeError("boom")
    with store(project) as uow:
        assert not uow.data.exists("session", "s1")


def test_commit_returns_a_receipt_with_gapless_seq_and_audit_fields(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        first = uow.commit(message="one")
        uow.data.add(vocab.session_record("s2", animal="Animal1"))
        second = uow.commit(message="two")
    assert (second.seq - first.seq, first.actor, first.message, second.message) == (1, "tester", "one", "two")


def test_commit_with_nothing_staged_appends_nothing(store, project):
    with store(project) as uow:
        receipt = uow.commit()
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        after = uow.commit()
    assert receipt is None and after.seq == 2  # seq 1 is the vocabulary


def test_committed_at_is_utc_with_millisecond_precision(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        receipt = uow.commit()
    assert receipt.committed_at.utcoffset().total_seconds() == 0 and receipt.committed_at.microsecond % 1000 == 0


def test_records_carry_time_of_save_from_the_commit(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        receipt = uow.commit()
        record = uow.data.get("session", "s1")
    assert record["time_of_save"] == receipt.committed_at and record["time_of_removal"] is None


def test_actor_comes_from_the_environment_when_not_given(provider, project, monkeypatch, tmp_path):
    from signalstore_es import UnitOfWorkProvider

    monkeypatch.setenv("SIGNALSTORE_ACTOR", "rig-3")
    assert UnitOfWorkProvider.embedded(tmp_path / "other").actor == "rig-3"


def test_a_failed_validation_leaves_the_batch_usable(store, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        with pytest.raises(ValidationError):
            uow.data.add({"schema_ref": "session", "data_name": "s2", "no_such_property": 1})
        uow.commit()
        assert uow.data.exists("session", "s1") and not uow.data.exists("session", "s2")


def test_a_second_writer_adding_the_same_key_loses_with_already_exists(store, second_provider, project):
    with store(project) as first, second_provider(project) as second:
        first.data.add(vocab.session_record("s1", animal="Animal1"))
        second.data.add(vocab.session_record("s1", animal="Animal1", session_notes="second"))
        first.commit()
        with pytest.raises(AlreadyExistsError, match="committed first by another writer"):
            second.commit()


def test_a_losing_commit_writes_nothing_and_keeps_the_seq_gapless(store, second_provider, project):
    with store(project) as first, second_provider(project) as second:
        first.data.add(vocab.session_record("s1", animal="Animal1"))
        second.data.add(vocab.session_record("s1", animal="Animal1"))
        second.data.add(vocab.session_record("s9", animal="Animal1"))
        first.commit()
        with pytest.raises(AlreadyExistsError):
            second.commit()
    with store(project) as uow:
        uow.data.add(vocab.session_record("s2", animal="Animal1"))
        assert uow.commit().seq == 3 and not uow.data.exists("session", "s9")


def test_non_conflicting_concurrent_writers_both_land_in_order(store, second_provider, project):
    with store(project) as first, second_provider(project) as second:
        first.data.add(vocab.session_record("s1", animal="Animal1"))
        second.data.add(vocab.session_record("s2", animal="Animal1"))
        a = first.commit()
        b = second.commit()
    assert (a.seq, b.seq) == (2, 3)


def test_removing_a_record_another_writer_removed_is_a_conflict(store, second_provider, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        uow.commit()
    with store(project) as first, second_provider(project) as second:
        first.data.remove("session", "s1")
        second.data.remove("session", "s1")
        first.commit()
        with pytest.raises(ConcurrencyError, match="record:session/s1"):
            second.commit()


def test_a_writer_committing_again_after_another_writer_appended_lands_after_it(store, second_provider, project):
    """A unit of work assumes the head its own last commit left; another writer's commit in
    between must be found, checked for conflicts and appended after, chain intact."""
    with store(project) as first, second_provider(project) as second:
        first.data.add(vocab.session_record("s1", animal="Animal1"))
        a = first.commit()
        second.data.add(vocab.session_record("s2", animal="Animal1"))
        b = second.commit()
        first.data.add(vocab.session_record("s3", animal="Animal1"))
        c = first.commit()
        second.data.add(vocab.session_record("s4", animal="Animal1"))
        first.data.add(vocab.session_record("s4", animal="Animal1", session_notes="first"))
        second.commit()
        with pytest.raises(AlreadyExistsError, match="committed first by another writer"):
            first.commit()
    assert (a.seq, b.seq, c.seq) == (2, 3, 4)
    assert store.verify(project).ok


def test_the_same_uow_can_commit_again_after_a_commit(store, project):
    with store(project) as uow:
        uow.data.add(spike_times("u1"))
        uow.commit()
        uow.data.remove("spike_times", "u1")
        uow.commit()
        assert uow.data.get("spike_times", "u1") is None


def test_rebuild_reproduces_the_incrementally_built_views(store, project):
    with store(project) as uow:
        uow.data.add(spike_times("u1"))
        uow.data.add(spike_times("u2", seed=2), versioning_on=True)
        uow.commit()
        uow.data.remove("spike_times", "u1")
        uow.commit()
        before = sorted(map(repr, uow.data.find())), sorted(map(repr, uow.data.list_marked_for_deletion()))
    report = store.rebuild(project)
    with store(project) as uow:
        after = sorted(map(repr, uow.data.find())), sorted(map(repr, uow.data.list_marked_for_deletion()))
    assert after == before and report.commits == 3


def test_memory_objects_are_visible_in_the_unit_and_kept_only_on_commit(store, project):
    with store(project) as uow:
        uow.memory.add("cache", "rates", [1, 2, 3])
        assert uow.memory.get("cache", "rates") == [1, 2, 3]
    with store(project) as uow:
        assert not uow.memory.exists("cache", "rates")
        uow.memory.add("cache", "rates", [1, 2, 3])
        uow.commit()
    with store(project) as uow:
        assert uow.memory.get("cache", "rates") == [1, 2, 3]


def test_memory_remove_of_a_missing_object_raises_not_found(store, project):
    from signalstore_es import NotFoundError

    with store(project) as uow, pytest.raises(NotFoundError):
        uow.memory.remove("cache", "nothing")
