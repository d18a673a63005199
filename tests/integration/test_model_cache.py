"""A unit of work keeps the domain models it validated with across its commits, and forgets
them exactly when they may have changed: its own commit changed them, or other writers'
commits landed before its own."""

from __future__ import annotations

import pytest

from signalstore_es import ValidationError
from signalstore_es.testing import vocabulary as vocab

NOTE = {"schema_name": "x_note", "schema_title": "X Note", "schema_description": "A free note.",
        "schema_type": "property_model", "json_schema": {"type": "string"}}


def test_a_model_removed_by_another_writer_stops_validating_after_the_next_commit(store, second_provider, project):
    with store(project) as uow:
        uow.data.add(vocab.session_record("s1", animal="Animal1"))
        uow.commit()
        with second_provider(project) as other:
            other.domain_models.remove("session")
            other.commit()
        uow.data.add(vocab.animal_record("Animal9"))
        uow.commit()  # lands after the other writer's commit: cached models are forgotten
        with pytest.raises(ValidationError, match="session"):
            uow.data.add(vocab.session_record("s2", animal="Animal1"))


def test_a_model_this_unit_of_work_commits_replaces_its_cached_absence(store, project):
    with store(project) as uow:
        assert uow.domain_models.get("x_note") is None
        uow.domain_models.add(NOTE)
        uow.commit()
        assert uow.domain_models.get("x_note")["schema_type"] == "property_model"
        uow.domain_models.remove("x_note")
        uow.commit()
        assert uow.domain_models.get("x_note") is None and not uow.domain_models.exists("x_note")


def test_models_stay_cached_across_commits_of_records(store, project):
    with store(project) as uow:
        for i in range(3):
            uow.data.add(vocab.session_record(f"s{i}", animal="Animal1"))
            uow.commit()
        cached = dict(uow._models)
        uow.data.add(vocab.session_record("s9", animal="Animal1"))
        uow.commit()
        assert "session" in cached and all(uow._models[name] is model for name, model in cached.items())
