"""A user-defined projector replays the existing log, then follows new commits (every backend)."""

from __future__ import annotations

import pytest

from projections.protocol import EventContext, Row
from projections.session_index import SessionIndexProjector
from signalstore_es import ProjectorError, ViewsBehindError
from signalstore_es.domain.events import Event, RecordAdded, RecordRemoved
from tests.conftest import spike_times


def test_a_registered_projector_replays_history_and_follows_new_commits(store, project):
    with store(project) as uow:
        uow.data.add(spike_times("u1", session="sA"))
        uow.data.add(spike_times("u2", seed=1, session="sB"))
        uow.commit()
    store.register_projector(SessionIndexProjector())
    with store(project) as uow:
        replayed = [r["data_name"] for r in uow.find_view("session_index", {"session": "sA"})]
        uow.data.add(spike_times("u3", seed=2, session="sA"))
        uow.data.remove("spike_times", "u1")
        uow.commit()
        followed = sorted((r["data_name"], r["is_removed"]) for r in uow.find_view("session_index", {"session": "sA"}))
    assert replayed == ["u1"] and followed == [("u1", True), ("u3", False)]


def test_rebuilding_only_the_custom_view_reproduces_it(store, project):
    store.register_projector(SessionIndexProjector())
    with store(project) as uow:
        uow.data.add(spike_times("u1", session="sA"))
        uow.commit()
        before = uow.find_view("session_index")
    report = store.rebuild(project, views=["session_index"])
    with store(project) as uow:
        assert uow.find_view("session_index") == before and report.views == ("session_index",)


class ListValuedProjector:
    """A user view whose rows hold lists in the fields the embedded backend indexes."""

    view = "list_valued"
    event_types = frozenset({RecordAdded.event_type, RecordRemoved.event_type})

    def row_id(self, event: Event, context: EventContext) -> str | None:
        assert isinstance(event, (RecordAdded, RecordRemoved))
        return event.key.data_name

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        name = event.key.data_name
        if isinstance(event, RecordRemoved):
            return {**row, "time_of_removal": [None, "removed"]} if row else None
        return {"_key": [name, "shared"], "schema_ref": [event.key.schema_ref, "alias"],
                "data_name": [name.upper(), f"{name}-alias"], "schema_name": ["a", "b"], "time_of_removal": None,
                "name": name}


@pytest.mark.parametrize(("filter", "expected"), [
    ({"_key": "shared"}, ["u1", "u2"]),
    ({"schema_ref": "alias", "data_name": "U1"}, ["u1"]),
    ({"data_name": "u1"}, []),
    ({"data_name": ["U1", "u1-alias"]}, ["u1"]),
    ({"schema_name": {"$in": ["b", "z"]}, "_key": "u2"}, ["u2"]),
    ({"$and": [{"_key": "shared"}, {"schema_ref": {"$in": ["alias"]}}], "time_of_removal": None}, ["u1", "u2"]),
    ({"_key": "u1", "time_of_removal": None}, ["u1"]),
    ({"time_of_removal": {"$ne": None}}, []),
], ids=repr)
def test_a_user_view_with_lists_in_indexed_fields_matches_them_as_mongodb_does(store, project, filter, expected):
    """``{"f": "x"}`` and ``$in`` match a list holding ``"x"``; ``time_of_removal: None`` matches
    a list holding None. The embedded backend must not lose those rows to its column indexes."""
    store.register_projector(ListValuedProjector())
    with store(project) as uow:
        uow.data.add(spike_times("u1", session="sA"))
        uow.data.add(spike_times("u2", seed=1, session="sB"))
        uow.commit()
        uow.data.remove("spike_times", "u2")
        uow.commit()
        found = sorted(r["name"] for r in uow.find_view("list_valued", filter))
    assert found == expected


class FailingProjector:
    """Raises for one data name until ``fixed`` (a user projector with a bug)."""

    view = "failing"
    event_types = frozenset({RecordAdded.event_type})

    def __init__(self) -> None:
        self.fixed = False

    def row_id(self, event: Event, context: EventContext) -> str | None:
        assert isinstance(event, RecordAdded)
        return event.key.data_name

    def apply(self, row: Row, event: Event, context: EventContext) -> Row:
        assert isinstance(event, RecordAdded)
        if event.key.data_name == "bad" and not self.fixed:
            raise RuntimeError("projector bug")
        return {"name": event.key.data_name}


def test_a_failing_projector_never_hides_whether_a_commit_landed(store, project, backend_name):
    """SQLite projects in the commit's transaction: the commit fails and nothing is stored.
    MongoDB appends first: the commit is durable and says so, and reads refuse to answer from
    views that miss it until the projector works, then see it."""
    projector = FailingProjector()
    store.register_projector(projector)
    with store(project) as uow:
        uow.data.add(spike_times("good", session="sA"))
        uow.commit()
        uow.data.add(spike_times("bad", seed=1, session="sB"))
        if backend_name == "sqlite":
            with pytest.raises(ProjectorError, match=r"FailingProjector.apply for view 'failing' failed on "
                                                     r"event 0 \(record_added\) of commit 3: RuntimeError: "
                                                     "projector bug") as failed:
                uow.commit()
            assert (failed.value.view, failed.value.seq, failed.value.index) == ("failing", 3, 0)
            assert isinstance(failed.value.__cause__, RuntimeError)
            assert [r["data_name"] for r in uow.data.find({})] == ["good"]
            return
        landed = uow.commit()
        with pytest.raises(ViewsBehindError, match=f"seq {landed.seq}.*of commit {landed.seq}: RuntimeError: "
                                                   "projector bug") as raised:
            uow.data.find({})
        assert raised.value.seq == landed.seq
        projector.fixed = True
        assert sorted(r["data_name"] for r in uow.data.find({})) == ["bad", "good"]
        assert sorted(r["name"] for r in uow.find_view("failing")) == ["bad", "good"]
