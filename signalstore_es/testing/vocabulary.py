"""A realistic example vocabulary: electrophysiology subjects, sessions, probes and spike sorting.

It is SignalStore's test vocabulary (``tests/data/valid_data/models``) with its bugs fixed, so
that every data model shipped here can hold valid records:

- ``record_metamodel`` states its rules where they take effect (SignalStore nested the
  ``version_timestamp``/``has_file`` clauses inside ``data_name``), and the new
  ``xarray_dataarray_metamodel`` really checks DataArray data models (SignalStore's accepted
  anything);
- every property a data model lists has a property model (SignalStore's ``animal`` listed
  ``sex``, ``species``, ``weight``... without one), ``session`` lists ``start_time`` (not
  ``session_time``), ``probe`` lists the ``probe_model`` it requires, and ``spike_labels`` has
  a data model;
- 1-D data are 1-D: ``spike_times`` and ``spike_labels`` have ``data_dimensions
  ["spike_idx"]``, without SignalStore's fake second dimension;
- ``spike_waveforms`` in microvolts measure ``[voltage]``, not ``[charge]``;
- data references accept every valid data_name (``2024-04-28-AM-Animal1``), and a data model
  says which ``schema_ref`` each of its references must point at.

Every function returns fresh deep copies. Add :func:`all_models` in order: metamodels, then
property models, then data models (a data model needs its metamodel and its terms).
"""

from __future__ import annotations

import copy
from typing import Any

from signalstore_es.domain.keys import DATA_NAME_PATTERN, SCHEMA_NAME_PATTERN

Model = dict[str, Any]

_VERSION = {"anyOf": [{"type": "integer", "const": 0}, {"type": "datetime"}]}
_DATE = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$"
_SYSTEM_REQUIRED = ["schema_ref", "data_name", "version_timestamp", "has_file"]


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Omit:
        return self  # a singleton: identity is how overrides recognise it


#: Pass as an override to leave a field out: ``session_record("s1", start_time=OMIT)``.
OMIT: Any = _Omit()


# ------------------------------------------------------------------------------- metamodels


def _metamodel_rules(name: str, has_file: bool, listed: list[str], required: list[str]) -> Model:
    """A metamodel json_schema: which data models may describe records of this kind."""
    return {
        "type": "object",
        "required": ["schema_name", "schema_title", "schema_description", "schema_type",
                     "metamodel_ref", "json_schema"],
        "properties": {
            "schema_type": {"const": "data_model"},
            "metamodel_ref": {"const": name},
            "json_schema": {
                "type": "object",
                "required": ["type", "properties", "required"],
                "properties": {
                    "type": {"const": "object"},
                    "properties": {
                        "type": "object",
                        "required": _SYSTEM_REQUIRED + listed,
                        "properties": {
                            "schema_ref": {"type": "object", "required": ["const"],
                                           "properties": {"const": {"type": "string"}}},
                            "data_name": {"type": "object",
                                          "properties": {"type": {"const": "string"}}},
                            "has_file": {"const": {"const": has_file}},
                        },
                    },
                    "required": {
                        "type": "array",
                        "items": {"type": "string"},
                        "allOf": [{"contains": {"const": n}} for n in _SYSTEM_REQUIRED + required],
                    },
                },
            },
        },
    }


_DATAARRAY_FACTS = ["data_dimensions", "shape", "dtype", "unit_of_measure", "dimension_of_measure"]

_METAMODELS: list[Model] = [
    {
        "schema_name": "record_metamodel",
        "schema_title": "Record Metamodel",
        "schema_description": "Validates data models of plain records, which have no data file.",
        "schema_type": "metamodel",
        "json_schema": _metamodel_rules("record_metamodel", False, [], []),
    },
    {
        "schema_name": "xarray_dataarray_metamodel",
        "schema_title": "Xarray DataArray Metamodel",
        "schema_description": "Validates data models of records whose data is an xarray DataArray.",
        "schema_type": "metamodel",
        "json_schema": _metamodel_rules("xarray_dataarray_metamodel", True, _DATAARRAY_FACTS,
                                        ["data_dimensions", "shape", "dtype"]),
    },
]


# -------------------------------------------------------------------------- property models


def _term(name: str, title: str, description: str, json_schema: Model) -> Model:
    return {"schema_name": name, "schema_title": title, "schema_description": description,
            "schema_type": "property_model", "json_schema": json_schema}


_TEXT = {"type": "string", "minLength": 1}

_PROPERTY_MODELS: list[Model] = [
    _term("data_ref", "Data Reference",
          "A reference to another record; every property named *_data_ref uses this model.",
          {"type": "object",
           "properties": {"schema_ref": {"type": "string", "pattern": SCHEMA_NAME_PATTERN.pattern},
                          "data_name": {"type": "string", "pattern": DATA_NAME_PATTERN.pattern},
                          "version_timestamp": _VERSION},
           "required": ["schema_ref", "data_name"], "additionalProperties": False}),
    _term("notes", "Notes", "Free-text notes.", {"type": "string"}),
    _term("animal_species", "Animal Species", "Binomial species name, e.g. Mus musculus.", _TEXT),
    _term("animal_strain", "Animal Strain", "Strain or line, e.g. C57BL/6J.", _TEXT),
    _term("genotype", "Genotype", "Genotype of the animal, e.g. wild type.", _TEXT),
    _term("sex", "Sex", "Sex of the animal.",
          {"type": "string", "enum": ["female", "male", "unknown"]}),
    _term("age", "Age", "Age of the animal, in age_unit.", {"type": "number", "minimum": 0}),
    _term("age_unit", "Age Unit", "Unit of age.",
          {"type": "string", "enum": ["days", "weeks", "months", "years"]}),
    _term("weight", "Weight", "Weight of the animal, in weight_unit.",
          {"type": "number", "exclusiveMinimum": 0}),
    _term("weight_unit", "Weight Unit", "Unit of weight.", {"type": "string", "enum": ["g", "kg"]}),
    _term("session_date", "Session Date", "Date of the session, YYYY-MM-DD.",
          {"type": "string", "pattern": _DATE}),
    _term("start_time", "Start Time", "Local start time of the session, HH:MM:SS.",
          {"type": "string", "pattern": _CLOCK}),
    _term("duration", "Duration", "Duration of the session, HH:MM:SS.",
          {"type": "string", "pattern": _CLOCK}),
    _term("session_description", "Session Description", "What happened in the session.", _TEXT),
    _term("session_notes", "Session Notes", "Free-text notes about the session; may be empty.",
          {"type": "string"}),
    _term("probe_type", "Probe Type", "Kind of probe.",
          {"type": "string", "enum": ["tetrode", "silicon", "neuropixels", "microwire"]}),
    _term("probe_description", "Probe Description", "Description of the probe.", _TEXT),
    _term("probe_manufacturer", "Probe Manufacturer", "Who made the probe.", _TEXT),
    _term("probe_model", "Probe Model", "The manufacturer's model name.", _TEXT),
    _term("probe_serial_number", "Probe Serial Number", "Serial number of the probe.", _TEXT),
    _term("channel_count", "Channel Count", "Number of recording channels.",
          {"type": "integer", "minimum": 1}),
    _term("data_dimensions", "Data Dimensions", "Dimension names of the data, in order.",
          {"type": "array", "items": {"type": "string", "minLength": 1}}),
    _term("shape", "Shape", "Length of each dimension of the data, in order.",
          {"type": "array", "items": {"type": "integer", "minimum": 0}}),
    _term("dtype", "Data Type", "NumPy dtype name of the data, e.g. float64.", _TEXT),
    _term("unit_of_measure", "Unit of Measure", "Unit of the data values, e.g. seconds.", _TEXT),
    _term("dimension_of_measure", "Dimension of Measure",
          "Physical dimension of the data values, in brackets, e.g. [time].",
          {"type": "string", "pattern": r"^\[([a-zA-Z]+)\]$"}),
    _term("sampling_rate", "Sampling Rate", "Samples per second (Hz).",
          {"type": "number", "exclusiveMinimum": 0}),
]


# ------------------------------------------------------------------------------ data models


def _ref_to(schema_ref: str) -> Model:
    return {"type": "object", "properties": {"schema_ref": {"const": schema_ref}}}


def _data_model(name: str, title: str, description: str, metamodel: str, has_file: bool,
                properties: Model, required: list[str], **rules: Any) -> Model:
    system = {"schema_ref": {"type": "string", "const": name}, "data_name": {"type": "string"},
              "version_timestamp": _VERSION, "has_file": {"const": has_file},
              "time_of_save": {"type": "datetime"},
              "time_of_removal": {"type": ["datetime", "null"]}}
    return {"schema_name": name, "schema_title": title, "schema_description": description,
            "schema_type": "data_model", "metamodel_ref": metamodel,
            "json_schema": {"type": "object", "properties": {**system, **properties},
                            "required": _SYSTEM_REQUIRED + required, **rules}}


def _together(*names: str) -> Model:
    """If one of ``names`` is present, all must be."""
    return {"if": {"anyOf": [{"required": [n]} for n in names]}, "then": {"required": list(names)}}


_REFS = {"session_data_ref": _ref_to("session"), "animal_data_ref": _ref_to("animal"),
         "probe_data_ref": _ref_to("probe")}
_FLOATS = {"type": "string", "enum": ["float32", "float64"]}

_DATA_MODELS: list[Model] = [
    _data_model("animal", "Animal", "A single experimental subject.", "record_metamodel", False,
                {"animal_species": {}, "animal_strain": {}, "genotype": {}, "sex": {}, "age": {},
                 "age_unit": {}, "weight": {}, "weight_unit": {}, "notes": {}},
                ["animal_species"],
                allOf=[_together("age", "age_unit"), _together("weight", "weight_unit")]),
    _data_model("session", "Recording Session",
                "A period in which an electrophysiology recording is made from one subject.",
                "record_metamodel", False,
                {"session_date": {}, "start_time": {}, "duration": {}, "session_description": {},
                 "session_notes": {}, "animal_data_ref": _ref_to("animal"), "notes": {}},
                ["session_date", "start_time", "duration"]),
    _data_model("probe", "Probe", "A recording device with one or more channels.",
                "record_metamodel", False,
                {"probe_type": {}, "probe_description": {}, "probe_manufacturer": {},
                 "probe_model": {}, "probe_serial_number": {}, "channel_count": {}, "notes": {}},
                ["probe_type", "probe_description", "probe_manufacturer", "probe_model"]),
    _data_model("spike_times", "Spike Times",
                "Times at which the spikes of a recording occur, one value per spike.",
                "xarray_dataarray_metamodel", True,
                {"data_dimensions": {"const": ["spike_idx"]},
                 "shape": {"minItems": 1, "maxItems": 1}, "dtype": _FLOATS,
                 "unit_of_measure": {"enum": ["seconds", "milliseconds"]},
                 "dimension_of_measure": {"const": "[time]"}, **_REFS, "notes": {}},
                [*_DATAARRAY_FACTS, *_REFS]),
    _data_model("spike_waveforms", "Spike Waveforms",
                "Voltage snippets around each spike, per channel and sample.",
                "xarray_dataarray_metamodel", True,
                {"data_dimensions": {"const": ["spike_idx", "channel", "sample"]},
                 "shape": {"minItems": 3, "maxItems": 3}, "dtype": _FLOATS,
                 "unit_of_measure": {"const": "microvolts"},
                 "dimension_of_measure": {"const": "[voltage]"}, "sampling_rate": {}, **_REFS,
                 "notes": {}},
                [*_DATAARRAY_FACTS, *_REFS]),
    _data_model("spike_labels", "Spike Labels",
                "The cluster (putative neuron) of each spike, from spike sorting.",
                "xarray_dataarray_metamodel", True,
                {"data_dimensions": {"const": ["spike_idx"]},
                 "shape": {"minItems": 1, "maxItems": 1},
                 "dtype": {"type": "string", "enum": ["int32", "int64"]},
                 "unit_of_measure": {"const": "neurons"},
                 "dimension_of_measure": {"const": "[nominal]"}, **_REFS,
                 "spike_times_data_ref": _ref_to("spike_times"), "notes": {}},
                [*_DATAARRAY_FACTS, *_REFS]),
]


# ------------------------------------------------------------------------------ public API


def metamodels() -> list[Model]:
    """The metamodels: ``record_metamodel`` and ``xarray_dataarray_metamodel``."""
    return copy.deepcopy(_METAMODELS)


def property_models() -> list[Model]:
    """The controlled vocabulary: one property model per record property."""
    return copy.deepcopy(_PROPERTY_MODELS)


def data_models() -> list[Model]:
    """animal, session, probe, spike_times, spike_waveforms, spike_labels."""
    return copy.deepcopy(_DATA_MODELS)


def all_models() -> list[Model]:
    """Every model, in the order they must be added: metamodels, property models, data models."""
    return metamodels() + property_models() + data_models()


def data_ref(schema_ref: str, data_name: str) -> dict[str, Any]:
    """A ``*_data_ref`` value pointing at record ``(schema_ref, data_name)``."""
    return {"schema_ref": schema_ref, "data_name": data_name}


def _with(record: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**record, **overrides}
    return copy.deepcopy({k: v for k, v in merged.items() if v is not OMIT})


def animal_record(data_name: str = "Animal1", **overrides: Any) -> dict[str, Any]:
    """A valid ``animal`` record; ``overrides`` replace fields (``OMIT`` drops one)."""
    return _with({"schema_ref": "animal", "data_name": data_name, "version_timestamp": 0,
                  "has_file": False, "animal_species": "Mus musculus",
                  "animal_strain": "C57BL/6J", "sex": "female", "age": 12, "age_unit": "weeks"},
                 overrides)


def probe_record(data_name: str = "Probe1", **overrides: Any) -> dict[str, Any]:
    """A valid ``probe`` record (a tetrode)."""
    return _with({"schema_ref": "probe", "data_name": data_name, "version_timestamp": 0,
                  "has_file": False, "probe_type": "tetrode",
                  "probe_description": "Four twisted nichrome wires",
                  "probe_manufacturer": "Sandvik", "probe_model": "PX000004",
                  "channel_count": 4}, overrides)


def session_record(data_name: str = "2024-04-28-AM-Animal1", animal: str = "Animal1",
                   **overrides: Any) -> dict[str, Any]:
    """A valid ``session`` record of ``animal``."""
    return _with({"schema_ref": "session", "data_name": data_name, "version_timestamp": 0,
                  "has_file": False, "session_date": "2024-04-28", "start_time": "09:30:00",
                  "duration": "00:45:00", "session_description": "Open field exploration",
                  "animal_data_ref": data_ref("animal", animal)}, overrides)


def _dataarray_attrs(schema_ref: str, data_name: str, session: str, animal: str, probe: str,
                     facts: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    return _with({"schema_ref": schema_ref, "data_name": data_name, "version_timestamp": 0,
                  "has_file": True, **facts,
                  "session_data_ref": data_ref("session", session),
                  "animal_data_ref": data_ref("animal", animal),
                  "probe_data_ref": data_ref("probe", probe)}, overrides)


def spike_times_attrs(data_name: str, session: str = "2024-04-28-AM-Animal1",
                      animal: str = "Animal1", probe: str = "Probe1", n_spikes: int = 100,
                      **overrides: Any) -> dict[str, Any]:
    """Valid attrs of a 1-D float64 ``spike_times`` DataArray over ``spike_idx``, in seconds."""
    facts = {"data_dimensions": ["spike_idx"], "shape": [n_spikes], "dtype": "float64",
             "unit_of_measure": "seconds", "dimension_of_measure": "[time]"}
    return _dataarray_attrs("spike_times", data_name, session, animal, probe, facts, overrides)


def spike_waveforms_attrs(data_name: str, session: str = "2024-04-28-AM-Animal1",
                          animal: str = "Animal1", probe: str = "Probe1", n_spikes: int = 100,
                          n_channels: int = 4, n_samples: int = 32,
                          **overrides: Any) -> dict[str, Any]:
    """Valid attrs of a float32 ``spike_waveforms`` DataArray (spike_idx, channel, sample)."""
    facts = {"data_dimensions": ["spike_idx", "channel", "sample"],
             "shape": [n_spikes, n_channels, n_samples], "dtype": "float32",
             "unit_of_measure": "microvolts", "dimension_of_measure": "[voltage]",
             "sampling_rate": 30000.0}
    return _dataarray_attrs("spike_waveforms", data_name, session, animal, probe, facts, overrides)


def spike_labels_attrs(data_name: str, session: str = "2024-04-28-AM-Animal1",
                       animal: str = "Animal1", probe: str = "Probe1", n_spikes: int = 100,
                       **overrides: Any) -> dict[str, Any]:
    """Valid attrs of a 1-D int64 ``spike_labels`` DataArray (one cluster id per spike)."""
    facts = {"data_dimensions": ["spike_idx"], "shape": [n_spikes], "dtype": "int64",
             "unit_of_measure": "neurons", "dimension_of_measure": "[nominal]"}
    return _dataarray_attrs("spike_labels", data_name, session, animal, probe, facts, overrides)


def example_records() -> list[dict[str, Any]]:
    """One valid record of each data model, referring to each other."""
    return [animal_record(), probe_record(), session_record(),
            spike_times_attrs("2024-04-28-AM-Animal1-Probe1"),
            spike_waveforms_attrs("2024-04-28-AM-Animal1-Probe1"),
            spike_labels_attrs("2024-04-28-AM-Animal1-Probe1",
                               spike_times_data_ref=data_ref("spike_times",
                                                             "2024-04-28-AM-Animal1-Probe1"))]
