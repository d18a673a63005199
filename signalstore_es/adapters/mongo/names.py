"""Database and collection names of the MongoDB backend.

One database per project. The log lives in ``events`` (one document per commit) and
``event_chunks`` (the staged events of commits too large for one document); each view ``V``
is a collection ``V`` of current rows plus ``versions_name(V)`` of every state a row has had;
``checkpoints`` holds the last seq applied to each view.
"""

from __future__ import annotations

from signalstore_es.errors import ArgumentTypeError, ValidationError

EVENTS = "events"
CHUNKS = "event_chunks"
CHECKPOINTS = "checkpoints"

#: MongoDB refuses these in database names (the union of its Unix and Windows rules).
_FORBIDDEN = frozenset('/\\. "$*<>:|?\x00')
_MAX_NAME_BYTES = 63


def check_project_name(project: object) -> str:
    """Return ``project`` if it is a valid MongoDB database name, else raise.

    Raises
    ------
    ArgumentTypeError
        ``project`` is not a str.
    ValidationError
        It is empty, longer than 63 bytes in UTF-8, or holds one of ``/\\. "$*<>:|?`` or NUL.
    """
    if not isinstance(project, str):
        raise ArgumentTypeError(f"project must be a str, got {type(project).__name__}: {project!r}")
    bad = sorted(set(project) & _FORBIDDEN)
    size = len(project.encode("utf-8"))
    if not project or bad or size > _MAX_NAME_BYTES:
        reason = (f"it holds {''.join(bad)!r}" if bad else
                  "it is empty" if not project else f"it is {size} bytes long")
        raise ValidationError(
            f"project={project!r} cannot be a MongoDB database name: {reason}. Use 1-63 bytes "
            "without / \\ . space \" $ * < > : | ? (e.g. 'rat_study_2024')"
        )
    return project


def versions_name(view: str) -> str:
    """The history collection of ``view``: one trailing ``s`` dropped, ``_versions`` added.

    ``records`` -> ``record_versions``, ``domain_models`` -> ``domain_model_versions``.
    """
    return f"{view[:-1] if view.endswith('s') else view}_versions"
