"""One error hierarchy: what is wrong with a record (dead-letter it) apart from what is wrong with the world
(retry it).

    AmpereError
    ├── PoisonRecord      the record itself can never be processed: dead letter, with a reason
    │   ├── records.BadRecord    undecodable, wrong schema, bad field
    │   └── media.MediaError     undecodable or out-of-bounds audio / image
    ├── TransientError    an outage (Redis, broker): wait and retry, never drop the record
    ├── QueryError        a search request that cannot be answered as asked (bad id, bad filter)
    │   └── NotFound      ... because what it names is not there (an unknown item, product or stream)
    └── ConfigError       the deployment is missing something (model file, services)
"""
from __future__ import annotations


class AmpereError(Exception):
    """Root of every error this library raises on purpose."""


class PoisonRecord(AmpereError, ValueError):
    """A record that cannot be processed, whatever happens around it; ``str(exc)`` is the reason."""


class TransientError(AmpereError):
    """A service the pipeline needs is unreachable or failing; the same call may work later."""


class QueryError(AmpereError, ValueError):
    """A query that is malformed or names something unknown."""


class NotFound(QueryError, LookupError):
    """A query names an item, product or stream that the index does not hold."""


class ConfigError(AmpereError, RuntimeError):
    """A model file, package or service the configuration needs is missing."""
