"""A user-defined projector replays the existing log, then follows new commits (every backend)."""

from __future__ import annotations

from projections.session_index import SessionIndexProjector
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
