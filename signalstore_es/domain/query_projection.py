"""MongoDB ``find`` projections: inclusion or exclusion of top-level and dotted fields.

As in the server (``ProjectionNode``, ``src/mongo/db/exec/projection_node.cpp``): output keeps
the document's field order; a dotted path descends into sub-documents and into every element
of arrays (nested arrays too); an inclusion drops array elements and values that are not
documents on the way (``{"a.b": 1}`` turns ``{"a": [{"b": 1, "c": 2}, 5]}`` into
``{"a": [{"b": 1}]}`` and omits ``a`` when it is a scalar), an exclusion leaves them alone;
``_id`` is included unless excluded; an empty projection returns the whole document.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from signalstore_es.domain.query_bson import ARRAY_TYPES
from signalstore_es.errors import ArgumentTypeError, ValidationError

Tree = dict[str, Any]  # field -> True (the path ends here) or a sub-tree
_SKIP: Any = object()


def apply_projection(doc: Mapping[str, Any], projection: Any) -> dict[str, Any]:
    """Return ``doc`` projected as MongoDB's ``find(projection=...)`` would.

    Parameters
    ----------
    doc : Mapping[str, Any]
        A record.
    projection : Mapping, Sequence[str] or None
        ``{"a": 1, "b.c": 1}`` (inclusion), ``{"a": 0}`` (exclusion) or a list of field names
        (inclusion, as pymongo accepts); values may be 1, 0, True or False. ``_id`` may be
        excluded from an inclusion. ``None`` returns ``doc`` unchanged (the same object when
        it is a dict).

    Returns
    -------
    dict
        A new document (deep copy) holding the projected fields.

    Raises
    ------
    ArgumentTypeError
        If ``projection`` is not a mapping, a list of field names or ``None``.
    ValidationError
        If it mixes inclusion and exclusion (other than of ``_id``), has a value other than
        1/0/True/False, a malformed path, or two paths where one is a prefix of the other.
    """
    if projection is None:
        return doc if isinstance(doc, dict) else dict(doc)
    tree, include = check_projection(projection)
    if include is None:
        return copy.deepcopy(dict(doc))
    projected = _include(doc, tree) if include else _exclude(doc, tree)
    return copy.deepcopy(projected)


def check_projection(projection: Any) -> tuple[Tree, bool | None]:
    """Return the projection as a path tree and whether it includes (None: empty projection)."""
    items = _projection_items(projection)
    if not items:
        return {}, None
    id_flag = dict(items).get("_id")
    included = [path for path, flag in items if flag and path != "_id"]
    excluded = [path for path, flag in items if not flag and path != "_id"]
    if included and excluded:
        raise ValidationError(
            f"projection={projection!r} mixes inclusion ({included[0]!r}) and exclusion "
            f"({excluded[0]!r}); list only fields to keep or only fields to drop (only _id may "
            "be dropped from a list of fields to keep)")
    include = bool(included) or (not excluded and id_flag is True)
    paths = included if include else excluded
    implicit_id = id_flag is None and not any(path.split(".")[0] == "_id" for path in paths)
    if (include and (id_flag is True or implicit_id)) or (not include and id_flag is False):
        paths = ["_id", *paths]
    return _tree(paths, projection), include


def _projection_items(projection: Any) -> list[tuple[str, bool]]:
    if isinstance(projection, Mapping):
        pairs = list(projection.items())
    elif isinstance(projection, ARRAY_TYPES) and all(isinstance(f, str) for f in projection):
        pairs = [(field, 1) for field in projection]
    else:
        raise ArgumentTypeError(
            f"projection must be a dict like {{'a': 1}} or {{'a': 0}}, a list of field names, "
            f"or None; got {type(projection).__name__}: {projection!r}")
    return [(_checked_path(path, projection), _checked_flag(path, flag, projection))
            for path, flag in pairs]


def _checked_path(path: Any, projection: Any) -> str:
    parts = path.split(".") if isinstance(path, str) else [""]
    if "" in parts or any(part.startswith("$") for part in parts):
        raise ValidationError(
            f"projection={projection!r}: {path!r} is not a field path like 'a' or 'a.b' "
            "(positional '$' and projection operators are not supported)")
    return path


def _checked_flag(path: str, flag: Any, projection: Any) -> bool:
    if isinstance(flag, bool) or (isinstance(flag, int) and flag in (0, 1)):
        return bool(flag)
    raise ValidationError(
        f"projection={projection!r}: the value of {path!r} is {flag!r}; use 1 or True to keep "
        "the field, 0 or False to drop it")


def _tree(paths: list[str], projection: Any) -> Tree:
    root: Tree = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            node = node.setdefault(part, {})
            if node is True:
                raise _collision(path, projection)
        if leaf in node:
            raise _collision(path, projection)
        node[leaf] = True
    return root


def _collision(path: str, projection: Any) -> ValidationError:
    return ValidationError(
        f"projection={projection!r}: {path!r} collides with another path that is its prefix "
        "or extends it; keep only one of them")


def _include(doc: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        node = tree.get(key)
        if node is True:
            out[key] = value
        elif node is not None:
            projected = _include_value(value, node)
            if projected is not _SKIP:
                out[key] = projected
    return out


def _include_value(value: Any, node: Tree) -> Any:
    if isinstance(value, Mapping):
        return _include(value, node)
    if isinstance(value, ARRAY_TYPES):
        projected = (_include_value(item, node) for item in value)
        return [item for item in projected if item is not _SKIP]
    return _SKIP


def _exclude(doc: Mapping[str, Any], tree: Tree) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        node = tree.get(key)
        if node is not True:
            out[key] = value if node is None else _exclude_value(value, node)
    return out


def _exclude_value(value: Any, node: Tree) -> Any:
    if isinstance(value, Mapping):
        return _exclude(value, node)
    if isinstance(value, ARRAY_TYPES):
        return [_exclude_value(item, node) for item in value]
    return value
