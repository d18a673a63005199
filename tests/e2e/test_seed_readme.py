"""SignalStore's README usage example, typos fixed, runs verbatim against a MongoDB server.

The only changes to the seed text: ``signalstore`` -> ``signalstore_es``, the typos the study
lists (``roog``, ``memorystore``, the unclosed string, the missing ``import xarray as xr``),
``fsspec.DirFileSystem`` spelled with its module, ``session_ref`` -> ``session_data_ref`` (the
vocabulary's name) and the server's address (the test server listens on a free port).
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from signalstore_es.testing import vocabulary as vocab

pytestmark = pytest.mark.mongo

SEED_EXAMPLE = '''
from signalstore_es import UnitOfWorkProvider
import fsspec
import fsspec.implementations.dirfs
import xarray as xr
from pymongo import MongoClient

og_filesystem = fsspec.filesystem('file')
root = '.'
filesystem = fsspec.implementations.dirfs.DirFileSystem(root, og_filesystem)
client = MongoClient(MONGO_HOST, MONGO_PORT)

memory_store = dict()


uow_provider = UnitOfWorkProvider(
    mongo_client=client,
    filesystem=filesystem,
    memory_store=memory_store
)

input_dir = 'path/to/my/input/data'

with uow_provider('myproject') as uow:
    data_glob = f'{input_dir}/*.nc'
    for data_file in filesystem.glob(data_glob):
        dataarray = xr.open_dataarray(data_file)
        uow.data.add(dataarray)
    # before the commit, everything will be rolled back if an exception is raised
    uow.commit()

with uow_provider('myproject') as uow:
    session_ref = {
        'schema_ref': 'session',
        'data_name': '2024-04-28-AM-Animal1'
            }
    query = {'session_data_ref': session_ref}
    metadata = uow.data.find(query) # find all data from specified recording session
    # load the data-arrays from found meta-data
    for record in metadata:
        dataarray = uow.data.get(
            schema_ref=record['schema_ref'],
            data_name=record['data_name'],
        )
        print(dataarray)
'''


def _write_lab_files(directory, sessions):
    """netCDF files as a lab has them: attrs hold the record, data refs as JSON text."""
    import json

    directory.mkdir(parents=True)
    for i, session in enumerate(sessions):
        # 3-D waveforms: netCDF turns a one-element list attribute into a scalar, so the
        # 1-D spike_times' data_dimensions=["spike_idx"] would not survive a lab's own file
        attrs = vocab.spike_waveforms_attrs(f"{session}-tetrode{i}", session=session,
                                            n_spikes=5, n_channels=4, n_samples=8)
        attrs = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in attrs.items()
                 if k != "has_file"}  # netCDF has no bool attributes; add() infers has_file
        array = xr.DataArray(np.zeros((5, 4, 8), dtype="float32"), dims=["spike_idx", "channel", "sample"],
                             attrs=attrs)
        array.to_netcdf(directory / f"unit{i}.nc", engine="netcdf4")


def test_the_seed_readme_example_runs_against_mongodb(mongo_server, mongo_client, tmp_path, monkeypatch, capsys):
    from pymongo.uri_parser import parse_uri

    host, port = parse_uri(mongo_server.uri)["nodelist"][0]
    mongo_client.drop_database("myproject")
    monkeypatch.chdir(tmp_path)
    _write_lab_files(tmp_path / "path/to/my/input/data", ["2024-04-28-AM-Animal1", "2024-04-29-AM-Animal1"])
    import fsspec
    from fsspec.implementations.dirfs import DirFileSystem

    from signalstore_es import UnitOfWorkProvider

    setup = UnitOfWorkProvider(mongo_client=mongo_client, filesystem=DirFileSystem(".", fsspec.filesystem("file")))
    with setup("myproject") as uow:
        for model in vocab.all_models():
            uow.domain_models.add(model)
        uow.data.add(vocab.animal_record("Animal1"))
        uow.data.add(vocab.probe_record("Probe1"))
        for session in ("2024-04-28-AM-Animal1", "2024-04-29-AM-Animal1"):
            uow.data.add(vocab.session_record(session))
        uow.commit()
    namespace = {"MONGO_HOST": host, "MONGO_PORT": port}
    try:
        exec(SEED_EXAMPLE, namespace)
    finally:
        if "client" in namespace:
            namespace["client"].close()  # the seed example leaves its client open
        mongo_client.drop_database("myproject")
    printed = capsys.readouterr().out
    assert printed.count("<xarray.DataArray") == 1 and "2024-04-28-AM-Animal1-tetrode0" in printed
