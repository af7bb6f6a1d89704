"""AMPere Live: the serving library of a streaming indexer for live commerce.

A live stream's media records become rolling windows (``WindowAssembler``, ``Ingestor``), each window goes through
the stages of a ``Pipeline`` (transcribe, summarize, embed and index, tag) with the ``Models`` of one process,
and everything lands in Redis through a ``Store``; ``Search`` answers the shop frontend. Settings come from one
typed ``Settings`` object. Names are imported on first use, so ``import ampere`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = {
    "Settings": "ampere.settings",
    "get_settings": "ampere.settings",
    "AmpereError": "ampere.errors",
    "PoisonRecord": "ampere.errors",
    "TransientError": "ampere.errors",
    "QueryError": "ampere.errors",
    "ConfigError": "ampere.errors",
    "WindowAssembler": "ampere.windows",
    "WindowMedia": "ampere.windows",
    "Ingestor": "ampere.ingest",
    "Pipeline": "ampere.pipeline",
    "Models": "ampere.models",
    "Store": "ampere.store",
    "Search": "ampere.search",
    "Tagger": "ampere.tagger",
    "decode": "ampere.records",
}
__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'ampere' has no attribute {name!r}")
