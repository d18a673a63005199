"""``signalstore-es demo``: a small, realistic project built and queried end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from rich.console import Console

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary as vocab

SESSIONS = ("2024-04-28-AM-Animal1", "2024-04-29-AM-Animal1")
UNITS = ("unit1", "unit2", "unit7")


def spike_train(rng: np.random.Generator, data_name: str, session: str) -> xr.DataArray:
    times = np.sort(rng.uniform(0, 600, size=int(rng.integers(200, 2000))))
    attrs = vocab.spike_times_attrs(data_name, session=session, animal="Animal1", n_spikes=times.size)
    return xr.DataArray(times, dims=["spike_idx"], name=data_name, attrs=attrs)


def free_project(provider: UnitOfWorkProvider, project: str) -> str:
    """``project``, or ``project-2``, ``-3``... if a previous demo already used it."""
    candidate, n = project, 1
    while True:
        with provider(candidate) as uow:
            if not uow.domain_models.find():
                return candidate
        n += 1
        candidate = f"{project}-{n}"


def run_demo(root: Path, project: str) -> None:
    console = Console()
    provider = UnitOfWorkProvider.embedded(root)
    project = free_project(provider, project)
    rng = np.random.default_rng(7)
    console.print(f"[bold]signalstore_es demo[/] - project [cyan]{project}[/] in {root.resolve()}")
    receipts = [_import_day(provider, project, rng), _curate(provider, project, rng)]
    for receipt in receipts:
        console.print(f"  commit seq={receipt.seq} events={receipt.event_count} "
                      f"actor={receipt.actor!r} message={receipt.message!r} hash={receipt.hash[:19]}...")
    _query(provider, project, console)
    provider.close()


def _import_day(provider: UnitOfWorkProvider, project: str, rng: np.random.Generator) -> Any:
    with provider(project) as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.data.add(vocab.animal_record("Animal1"))
        uow.data.add(vocab.probe_record("Probe1"))
        for session in SESSIONS:
            uow.data.add(vocab.session_record(session, animal="Animal1"))
            for unit in UNITS:
                uow.data.add(spike_train(rng, f"{session}-{unit}", session),
                             versioning_on=unit == "unit7")
        return uow.commit(message="import two recording sessions")


def _curate(provider: UnitOfWorkProvider, project: str, rng: np.random.Generator) -> Any:
    with provider(project) as uow:
        uow.data.remove("spike_times", f"{SESSIONS[0]}-unit2")  # a unit rejected by curation
        uow.data.add(spike_train(rng, f"{SESSIONS[0]}-unit7", SESSIONS[0]), versioning_on=True)
        return uow.commit(message="curation: drop unit2, re-sort unit7")


def _query(provider: UnitOfWorkProvider, project: str, console: Console) -> None:
    with provider(project) as uow:
        query = {"schema_ref": "spike_times", "session_data_ref.data_name": SESSIONS[0]}
        found = uow.data.find(query, sort=[("data_name", 1)])
        console.print(f"\nfind({query}) -> {len(found)} live records")
        for record in found:
            array = uow.data.get(record["schema_ref"], record["data_name"],
                                 version_timestamp=record["version_timestamp"])
            console.print(f"  {record['data_name']:<32} {array.sizes['spike_idx']:>5} spikes, "
                          f"first at {float(array[0]):7.3f} s, version {record['version_timestamp']}")
        newest = uow.data.get("spike_times", f"{SESSIONS[0]}-unit7", nth_most_recent=1)
        older = uow.data.get("spike_times", f"{SESSIONS[0]}-unit7", nth_most_recent=2)
        console.print(f"\nunit7 versions: newest has {newest.size} spikes, the one before {older.size}")
        removed = uow.data.list_marked_for_deletion()
        console.print(f"marked for deletion: {[r['data_name'] for r in removed]}")
        console.print(f"sessions: {[r['data_name'] for r in uow.data.find({'schema_ref': 'session'})]}")
