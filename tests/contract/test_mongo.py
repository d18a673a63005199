"""The storage contract against a real MongoDB-protocol server."""

from __future__ import annotations

import pytest

from signalstore_es.testing.contracts import StorageBackendContract


@pytest.mark.mongo
class TestMongoBackend(StorageBackendContract):
    def create_backend(self, request, tmp_path, project):
        from signalstore_es.adapters.mongo import MongoBackend

        client = request.getfixturevalue("mongo_client")
        request.addfinalizer(lambda: client.drop_database(project))
        return MongoBackend(client, project)
