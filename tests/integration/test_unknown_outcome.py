"""A connection lost after a commit was sent: retrying resolves it through commit_id and
never duplicates it (an injected error after the append, on the embedded backend)."""

from __future__ import annotations

import pytest

from signalstore_es import BackendUnavailableError
from signalstore_es.testing import vocabulary as vocab


class LosesTheAnswer:
    """Wraps a backend: the append happens, then the caller is told the connection dropped."""

    def __init__(self, inner, failures):
        self._inner, self.failures = inner, failures

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def append(self, commit, runner):
        self._inner.append(commit, runner)
        if self.failures:
            self.failures -= 1
            raise BackendUnavailableError("connection lost after the insert was sent")


class NeverAnswers(LosesTheAnswer):
    def append(self, commit, runner):
        raise BackendUnavailableError("server unreachable")


def _with_backend(provider, project, wrapper):
    backend = provider._backend(project)
    provider._backends[project] = wrapper(backend)


def test_a_commit_whose_answer_was_lost_is_reported_once_landed(tmp_path):
    from signalstore_es import UnitOfWorkProvider

    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    _with_backend(provider, "p", lambda b: LosesTheAnswer(b, failures=1))
    with provider("p") as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        receipt = uow.commit()
        log = uow.log()
    assert [c["commit_id"] for c in log] == [receipt.commit_id] and receipt.seq == 1


def test_a_server_that_never_answers_raises_after_bounded_retries_and_writes_nothing(tmp_path):
    from signalstore_es import UnitOfWorkProvider

    provider = UnitOfWorkProvider.embedded(tmp_path, actor="t")
    _with_backend(provider, "p", lambda b: NeverAnswers(b, failures=0))
    with provider("p") as uow:
        uow.domain_models.add(vocab.metamodels()[0])
        with pytest.raises(BackendUnavailableError):
            uow.commit()
        assert uow.log() == []
