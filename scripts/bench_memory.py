"""Child process of row 10 of ``scripts/bench.py``: peak memory while storing a dask array.

``python bench_memory.py store|raw N_BYTES ROOT [PROFILE_TXT]`` prints one JSON line.

Everything (imports, the provider, the lazy array) is set up first; then the peak-RSS mark is
reset (``/proc/self/clear_refs``) where Linux allows it, and the growth reported is the peak
during the operation minus the resident size just before it. ``ru_maxrss`` before/after is
reported too (it cannot be reset, so it understates growth if set-up peaked higher).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time

import dask
import dask.array
import numpy as np
import xarray as xr

from signalstore_es import UnitOfWorkProvider
from signalstore_es.testing import vocabulary

N_CHANNELS, N_SAMPLES = 4, 32
SPIKES_PER_CHUNK = 32_768  #: 16 MiB dask chunks of float32 (spike_idx, channel, sample)


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    mode, n_bytes, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    profile_to = sys.argv[4] if len(sys.argv) > 4 else None
    n_spikes = max(1, n_bytes // (N_CHANNELS * N_SAMPLES * 4))
    data = dask.array.random.default_rng(0).random((n_spikes, N_CHANNELS, N_SAMPLES), dtype=np.float32,
                                                   chunks=(SPIKES_PER_CHUNK, N_CHANNELS, N_SAMPLES))
    dims = ["spike_idx", "channel", "sample"]
    if mode == "store":
        provider = UnitOfWorkProvider.embedded(root)
        with provider("bench") as uow:
            for model in vocabulary.all_models():
                uow.domain_models.add(model)
            uow.commit()
        array = xr.DataArray(data, dims=dims, attrs=vocabulary.spike_waveforms_attrs(
            "waveforms", n_spikes=n_spikes, n_channels=N_CHANNELS, n_samples=N_SAMPLES))
        uow = provider("bench").__enter__()

        def run() -> None:
            uow.data.add(array)
            uow.commit()
    else:
        array = xr.DataArray(data, dims=dims)
        path = os.path.join(root, "raw.nc")

        def run() -> None:
            array.to_netcdf(path, engine="netcdf4")

    profiler = None
    if profile_to:
        from pyinstrument import Profiler  # noqa: PLC0415

        profiler = Profiler(interval=0.001)
    gc.collect()
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_before = _status("VmRSS")
    has_reset = _reset_peak()
    if profiler:
        profiler.start()
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    if profiler:
        profiler.stop()
        with open(profile_to, "w") as out:
            out.write(profiler.output_text(unicode=False, color=False))
    peak = _status("VmHWM") if has_reset else -1
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    growth = peak - rss_before if has_reset else maxrss_after - maxrss_before
    print(json.dumps({"mode": mode, "array_bytes": int(n_spikes * N_CHANNELS * N_SAMPLES * 4),
                      "seconds": seconds, "rss_before_bytes": rss_before, "peak_bytes": peak,
                      "peak_growth_bytes": max(0, growth), "peak_reset": has_reset,
                      "ru_maxrss_before_bytes": maxrss_before, "ru_maxrss_after_bytes": maxrss_after,
                      "ru_maxrss_growth_bytes": maxrss_after - maxrss_before,
                      "dask_chunk_bytes": SPIKES_PER_CHUNK * N_CHANNELS * N_SAMPLES * 4}))


if __name__ == "__main__":
    main()
