"""Property tests: any sequence of add / remove / restore / commit / rollback leaves views equal
to a replay of the log, and the state as of commit n equals the fold of the first n commits."""

from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from projections import BUILTIN_PROJECTORS
from projections.fold import fold
from signalstore_es import AlreadyExistsError, NotFoundError, UnitOfWorkProvider
from signalstore_es.testing import vocabulary as vocab

NAMES = st.sampled_from(["s0", "s1", "s2"])
NOTES = st.sampled_from(["", "good", "noisy"])
PROJECT = "history"


def comparable(rows):
    return sorted(repr(sorted(r.items())) for r in rows)


class StoreHistory(RuleBasedStateMachine):
    """Drives the public API and keeps a model of which keys are live or removed."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.provider = UnitOfWorkProvider.embedded(self.tmp.name, actor="machine")
        with self.provider(PROJECT) as uow:
            for model in vocab.all_models():
                uow.domain_models.add(model)
            uow.commit()
        self.uow = self.provider(PROJECT).__enter__()
        self.committed: dict[str, str] = {}  # live data_name -> notes
        self.removed: dict[str, str] = {}  # data_name -> notes of its newest removed generation
        self.staged_live = dict(self.committed)
        self.staged_removed = dict(self.removed)

    def teardown(self) -> None:
        self.uow.__exit__(None, None, None)
        self.provider.close()
        self.tmp.cleanup()

    @rule(name=NAMES, notes=NOTES)
    def add(self, name: str, notes: str) -> None:
        record = vocab.session_record(name, animal="Animal1", session_notes=notes)
        if name in self.staged_live:
            try:
                self.uow.data.add(record)
            except AlreadyExistsError:
                return
            raise AssertionError(f"adding live {name} did not raise")
        self.uow.data.add(record)
        self.staged_live[name] = notes

    @rule(name=NAMES)
    def remove(self, name: str) -> None:
        if name not in self.staged_live:
            try:
                self.uow.data.remove("session", name)
            except NotFoundError:
                return
            raise AssertionError(f"removing missing {name} did not raise")
        self.uow.data.remove("session", name)
        self.staged_removed[name] = self.staged_live.pop(name)

    @precondition(lambda self: self.staged_removed)
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.staged_removed)))
        if name in self.staged_live:
            return
        self.uow.data.restore("session", name)
        self.staged_live[name] = self.staged_removed.pop(name)

    @rule(message=st.none() | st.text(max_size=5))
    def commit(self, message: str | None) -> None:
        self.uow.commit(message=message)
        self.committed, self.removed = dict(self.staged_live), dict(self.staged_removed)

    @rule()
    def rollback(self) -> None:
        self.uow.__exit__(None, None, None)
        self.uow = self.provider(PROJECT).__enter__()
        self.staged_live, self.staged_removed = dict(self.committed), dict(self.removed)

    @invariant()
    def live_records_match_the_model(self) -> None:
        found = {r["data_name"]: r.get("session_notes", "") for r in self.uow.data.find({"schema_ref": "session"})}
        assert found == self.committed

    @rule()
    def views_equal_a_replay_of_the_log(self) -> None:
        before = comparable(self.uow.data.find()), comparable(self.uow.data.list_marked_for_deletion())
        self.provider.rebuild(PROJECT)
        after = comparable(self.uow.data.find()), comparable(self.uow.data.list_marked_for_deletion())
        assert after == before

    @rule()
    def state_as_of_each_commit_equals_the_fold_of_the_commits_before(self) -> None:
        backend = self.uow._context.backend  # the log itself is the reference: read it whole
        commits = list(backend.read_commits())
        for n in range(len(commits) + 1):
            expected = fold(commits[:n], BUILTIN_PROJECTORS).documents("records")
            assert comparable(backend.find_rows("records", {}, as_of=n)) == comparable(expected)


StoreHistory.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None,
                                          suppress_health_check=[HealthCheck.too_slow])
test_store_history = StoreHistory.TestCase
