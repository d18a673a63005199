"""``SafetensorsAdapter``: a PyTorch ``state_dict`` (names to tensors) as one ``.safetensors`` file.

Optional: needs the ``torch`` extra (``pip install signalstore_es[torch]``: PyTorch and
safetensors). Nothing here imports them until a tensor mapping is met, so the rest of
signalstore_es works without them; :meth:`SafetensorsAdapter.handles` is then False, and any
explicit use raises ConfigurationError naming the extra.

File: the safetensors format (an 8-byte little-endian header length, a JSON header padded with
spaces to 8 bytes, then every tensor's bytes back to back), written here tensor by tensor while
hashing, so no tensor is copied whole in memory and any fsspec filesystem works (the
``safetensors`` writer needs the whole serialization, or a local path). Tensors are laid out
like the safetensors writer does (largest element size first, then by name, so each is
aligned), and the header's ``__metadata__`` holds our format tag. Read with
``safetensors.torch.load_file`` (remote blobs are first copied to a local temporary file).

Hashed stream::

    frame {"format": "signalstore_es.torch.state_dict/1", "tensors": [[name, dtype, shape], ...]}
    every tensor's C-order little-endian bytes, in the file's order (element size, then name)

Stored: dense CPU-copyable tensors of the safetensors dtypes (F64, F32, F16, BF16, C64, I64,
I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2), under ``str`` names. Refused with
ValidationError: other dtypes (complex128, quantized), sparse and meta tensors, non-str names,
the reserved name ``__metadata__``. Not content, so not kept: the device (tensors load on the
CPU), ``requires_grad``, the mapping's type and order (a ``dict`` in name order comes back;
``load_state_dict`` accepts it) and storage sharing between tensors (tied weights come back as
separate, equal tensors). A state_dict has no attrs: its record is given to ``add`` separately
and ``get`` returns the bare dict. ``lazy=True`` has no effect.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO

import attrs
import fsspec

from signalstore_es.adapters.formats.hashing import ContentHasher
from signalstore_es.adapters.formats.numpy_npy import make_parent_dirs
from signalstore_es.adapters.fsspec.blob_store import local_path
from signalstore_es.errors import (
    ArgumentTypeError,
    ConfigurationError,
    IntegrityError,
    ValidationError,
)
from signalstore_es.ports.data_adapter import DataAdapter, WrittenBlob

FORMAT_TAG = "signalstore_es.torch.state_dict/1"
INSTALL_HINT = "pip install signalstore_es[torch]"
RESERVED_NAME = "__metadata__"
#: safetensors dtype tag -> element size in bytes
ITEMSIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "C64": 8, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
             "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
_TORCH_TAGS = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16",
               "complex64": "C64", "int64": "I64", "int32": "I32", "int16": "I16", "int8": "I8",
               "uint64": "U64", "uint32": "U32", "uint16": "U16", "uint8": "U8", "bool": "BOOL",
               "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2"}
_LENGTH_BYTES = 8
_MAX_HEADER_BYTES = 100 * 2**20  # the safetensors readers refuse larger headers


def _is_torch_type(kind: type) -> bool:
    module = kind.__module__
    return module == "torch" or module.startswith("torch.")


@attrs.frozen(kw_only=True)
class TensorEntry:
    """One tensor as the file holds it: name, safetensors dtype tag, shape and C-order bytes."""

    name: str
    dtype: str
    shape: tuple[int, ...] = attrs.field(converter=tuple)
    data: memoryview


class SafetensorsAdapter(DataAdapter):
    """Stores PyTorch state dicts as ``.safetensors`` files (see the module docstring)."""

    name = "torch.state_dict.safetensors"
    file_format = "safetensors"
    extension = ".safetensors"
    is_directory = False

    def __repr__(self) -> str:
        return "<SafetensorsAdapter>"

    object_types = (Mapping,)

    def handles(self, obj: Any) -> bool:
        """True for a non-empty mapping of str to torch tensors (False if torch is missing)."""
        if not isinstance(obj, Mapping) or not obj:
            return False
        # cheap tests first, by type module (importing torch takes seconds): the first value
        # alone rules out a record dict (every dict given to add is asked), then all of them
        if not _is_torch_type(type(next(iter(obj.values())))):
            return False
        if not all(_is_torch_type(type(v)) for v in obj.values()):
            return False
        try:
            torch = importlib.import_module("torch")
        except ImportError:
            return False
        return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())

    def is_address_cheap(self, obj: Any) -> bool:
        """Always True: the tensors are in memory."""
        return True

    def content_address(self, obj: Any) -> str:
        """The address of the tensors' names, dtypes, shapes and bytes.

        Raises
        ------
        ConfigurationError
            If PyTorch is not installed.
        ArgumentTypeError, ValidationError
            For anything but a mapping of str to storable tensors (see the module docstring).
        """
        return address_of(torch_entries(obj))

    def write(self, obj: Any, fs: fsspec.AbstractFileSystem, path: str) -> WrittenBlob:
        """Write ``obj`` to ``path`` on ``fs`` as safetensors while hashing it.

        Raises
        ------
        ConfigurationError, ArgumentTypeError, ValidationError
            As :meth:`content_address`; nothing is written then.
        """
        entries = torch_entries(obj)
        hasher = ContentHasher()
        make_parent_dirs(fs, path)
        with fs.open(path, "wb") as target:
            write_safetensors(target, entries, hasher)
        return WrittenBlob(address=hasher.address(), size=int(fs.size(path)))

    def read(self, fs: fsspec.AbstractFileSystem, path: str, *, lazy: bool = False) -> Any:
        """Load the state dict at ``path`` as a ``dict`` of CPU tensors in name order.

        Raises
        ------
        ConfigurationError
            If PyTorch or safetensors is not installed.
        IntegrityError
            If the file is not a safetensors file this adapter wrote.
        """
        load_file = _require("safetensors.torch").load_file
        with fs.open(path, "rb") as source:
            read_header(source, path)
        local = local_path(fs, path)
        if local is not None:
            tensors = load_file(local)
        else:
            with tempfile.TemporaryDirectory(prefix="signalstore-st-") as scratch:
                copy = os.path.join(scratch, "blob.safetensors")
                fs.get_file(path, copy)
                tensors = load_file(copy)
        return {name: tensors[name] for name in sorted(tensors)}

    def record_attrs(self, obj: Any) -> Mapping[str, Any]:
        """Always empty: a state dict carries no record; pass it to ``add`` as ``attrs=``."""
        return {}

    def attach_attrs(self, obj: Any, record: Mapping[str, Any]) -> Any:
        """``obj`` unchanged: a dict of tensors cannot carry its record (``find`` returns it)."""
        return obj


def torch_entries(obj: Any) -> list[TensorEntry]:
    """The file entries of a state dict (CPU, contiguous, detached copies only where needed).

    Raises
    ------
    ConfigurationError, ArgumentTypeError, ValidationError
        See :meth:`SafetensorsAdapter.content_address`.
    """
    torch = _require("torch")
    if not isinstance(obj, Mapping):
        raise ArgumentTypeError(f"expected a mapping of names to torch tensors, got {type(obj).__name__}")
    return [_torch_entry(torch, name, tensor) for name, tensor in obj.items()]


def _torch_entry(torch: Any, name: Any, tensor: Any) -> TensorEntry:
    _check_name(name)
    if not isinstance(tensor, torch.Tensor):
        raise ValidationError(f"state dict entry {name!r} is a {type(tensor).__name__}, not a tensor")
    tag = _TORCH_TAGS.get(str(tensor.dtype).removeprefix("torch."))
    if tag is None or tensor.layout != torch.strided or tensor.is_quantized or tensor.is_meta:
        raise ValidationError(f"tensor {name!r} ({tensor.dtype}, {tensor.layout}) cannot be stored as "
                              f"safetensors; use a dense tensor of one of {sorted(_TORCH_TAGS)}")
    dense = tensor.detach().resolve_conj().resolve_neg().to("cpu").contiguous()
    # viewed as bytes: bfloat16 and float8 have no NumPy dtype
    data = memoryview(dense.reshape(-1).view(torch.uint8).numpy())
    return TensorEntry(name=name, dtype=tag, shape=tuple(dense.shape), data=data)


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or name == RESERVED_NAME:
        raise ValidationError(f"state dict name {name!r} cannot be stored: use a str other than "
                              f"{RESERVED_NAME!r}")


def ordered(entries: Iterable[TensorEntry]) -> list[TensorEntry]:
    """Entries in file (and hashing) order: largest element size first, then by name."""
    return sorted(entries, key=lambda e: (-ITEMSIZES.get(e.dtype, 0), e.name))


def header_document(entries: list[TensorEntry]) -> dict[str, Any]:
    """The hashed description of the (ordered) entries."""
    return {"format": FORMAT_TAG, "tensors": [[e.name, e.dtype, list(e.shape)] for e in entries]}


def address_of(entries: Iterable[TensorEntry]) -> str:
    """The content address of ``entries``: what :func:`write_safetensors` hashes, unwritten."""
    hasher = ContentHasher()
    ordered_entries = ordered(entries)
    hasher.update_document(header_document(ordered_entries))
    for entry in ordered_entries:
        hasher.update(entry.data)
    return hasher.address()


def write_safetensors(target: BinaryIO, entries: Iterable[TensorEntry], hasher: ContentHasher) -> None:
    """Write ``entries`` as one safetensors file to ``target``, hashing them into ``hasher``.

    Raises
    ------
    ValidationError
        For a reserved or duplicated name, an unknown dtype tag, or bytes that disagree with
        the shape.
    """
    entries = ordered(entries)
    header: dict[str, Any] = {RESERVED_NAME: {"format": FORMAT_TAG}}
    offset = 0
    for entry in entries:
        _check_entry(entry, header)
        header[entry.name] = {"dtype": entry.dtype, "shape": list(entry.shape),
                              "data_offsets": [offset, offset + entry.data.nbytes]}
        offset += entry.data.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % _LENGTH_BYTES)  # the data start 8-byte aligned
    hasher.update_document(header_document(entries))
    target.write(len(raw).to_bytes(_LENGTH_BYTES, "little") + raw)
    for entry in entries:
        hasher.update(entry.data)
        target.write(entry.data)


def _check_entry(entry: TensorEntry, header: Mapping[str, Any]) -> None:
    _check_name(entry.name)
    if entry.name in header:
        raise ValidationError(f"tensor name {entry.name!r} appears twice")
    if entry.dtype not in ITEMSIZES:
        raise ValidationError(f"unknown safetensors dtype {entry.dtype!r}")
    count = 1
    for extent in entry.shape:
        count *= extent
    if entry.data.nbytes != count * ITEMSIZES[entry.dtype]:
        raise ValidationError(f"tensor {entry.name!r}: {entry.data.nbytes} bytes do not match "
                              f"shape {entry.shape} of {entry.dtype}")


def read_header(source: BinaryIO, path: str) -> dict[str, Any]:
    """The JSON header of a safetensors file written by this adapter.

    Raises
    ------
    IntegrityError
        If the header is unreadable or lacks our format tag.
    """
    length = int.from_bytes(source.read(_LENGTH_BYTES), "little")
    if not 0 < length <= _MAX_HEADER_BYTES:
        raise IntegrityError(f"{path} is not a safetensors blob (header length {length})")
    try:
        header = json.loads(source.read(length))
    except ValueError as err:
        raise IntegrityError(f"{path} has an unreadable safetensors header: {err}") from err
    if not isinstance(header, dict) or not isinstance(header.get(RESERVED_NAME), dict) \
            or header[RESERVED_NAME].get("format") != FORMAT_TAG:
        raise IntegrityError(f"{path} is not a {FORMAT_TAG} blob (no format tag in its metadata)")
    return header


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ConfigurationError(f"storing or loading torch state dicts needs PyTorch and safetensors: "
                                 f"{INSTALL_HINT} ({err})") from err
