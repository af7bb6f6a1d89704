"""One error hierarchy: what is wrong with a record (dead-letter it) apart from what is wrong with the world
(retry it).

    AmpereError
    ├── PoisonRecord      the record itself can never be processed: dead letter, with a reason
    │   ├── records.BadRecord    undecodable, wrong schema, bad field            (bad-record:)
    │   ├── media.MediaError     undecodable audio / image, wrong format          (bad-media:)
    │   │   ├── media.MediaLimit   over a bound (length, pixels, time jump, rate)  (media-limit:)
    │   │   └── media.LateMedia    arrived after its span was filled or closed     (late-media:)
    │   └── store.MissingBlob    the window's media expired                        (missing-blob:)
    ├── TransientError    an outage (Redis, broker): wait and retry, never drop the record
    ├── QueryError        a search request that cannot be answered as asked (bad id, bad filter)
    │   └── NotFound      ... because what it names is not there (an unknown item, product or stream)
    └── ConfigError       the deployment is missing something (model file, services)

Dead-letter reasons are ``<category>: <record and window>: <detail>``; the category (a ``PoisonRecord``'s
``category``) is stable so letters can be grouped and re-driven by it (``ampere dead-letters``). Besides the
poison categories there are ``transient:`` (an outage outlasted ``retry.give_up_s``; safe to re-drive) and
``internal-error:`` (an unexpected exception: a bug; the exception type and a scrubbed message).
"""

from __future__ import annotations

import re


class AmpereError(Exception):
    """Root of every error this library raises on purpose."""


class PoisonRecord(AmpereError, ValueError):
    """A record that cannot be processed, whatever happens around it; ``str(exc)`` is the reason."""

    category = "bad-record"


class TransientError(AmpereError):
    """A service the pipeline needs is unreachable or failing; the same call may work later."""

    category = "transient"


class QueryError(AmpereError, ValueError):
    """A query that is malformed or names something unknown."""


class NotFound(QueryError, LookupError):
    """A query names an item, product or stream that the index does not hold."""


class ConfigError(AmpereError, RuntimeError):
    """A model file, package or service the configuration needs is missing."""


# categories of dead letters that describe the world, not the record: re-driving them can succeed
TRANSIENT_CATEGORIES = ("transient",)
CATEGORIES = ("bad-record", "bad-media", "media-limit", "late-media", "missing-blob", "transient", "internal-error")


def _transient_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [TransientError, ConnectionError, TimeoutError]
    try:
        import redis.exceptions as rx

        # BusyLoadingError (LOADING while the AOF replays) is a ConnectionError subclass
        types += [
            rx.ConnectionError,
            rx.TimeoutError,
            rx.BusyLoadingError,
            rx.ClusterDownError,
            rx.TryAgainError,
            rx.ReadOnlyError,
            rx.MasterDownError,
        ]
    except ImportError:  # pragma: no cover - redis is a core dependency
        pass
    try:
        import kafka.errors as kx

        # UnknownError: what a broker that just restarted (Tansu) answers for a while
        types += [
            kx.KafkaConnectionError,
            kx.KafkaTimeoutError,
            kx.NodeNotReadyError,
            kx.RequestTimedOutError,
            kx.NotLeaderForPartitionError,
            kx.LeaderNotAvailableError,
            kx.UnknownProducerIdError,
            kx.UnknownTopicOrPartitionError,
            kx.UnknownError,
        ]
    except ImportError:  # pragma: no cover - the serve extra
        pass
    try:
        import aiokafka.errors as ax

        types += [
            ax.KafkaConnectionError,
            ax.NodeNotReadyError,
            ax.RequestTimedOutError,
            ax.KafkaTimeoutError,
            ax.NotLeaderForPartitionError,
            ax.LeaderNotAvailableError,
            ax.NoBrokersAvailable,
            ax.UnknownTopicOrPartitionError,
            ax.UnknownError,
            ax.ProducerClosed,
        ]
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


_TRANSIENT: tuple[type[BaseException], ...] | None = None


def is_transient(exc: BaseException) -> bool:
    """An outage rather than a bad record: Redis or the broker unreachable, timing out, loading, failing over.
    A poison record is never transient, whatever it wraps."""
    global _TRANSIENT
    if isinstance(exc, PoisonRecord):
        return False
    if _TRANSIENT is None:
        _TRANSIENT = _transient_types()
    if isinstance(exc, _TRANSIENT):
        return True
    retriable = getattr(exc, "retriable", None)  # kafka-python / aiokafka mark their retriable errors
    return retriable is True


_ADDR = re.compile(r"\s+at 0x[0-9a-fA-F]+")
_HEX = re.compile(r"0x[0-9a-fA-F]{6,}")
_REPR = re.compile(r"<([A-Za-z_][\w.]*)(?: object)?[^<>]{0,200}>")
_BYTES = re.compile(r"b(['\"]).{24,}?\1")


def scrub(text: str, limit: int = 240) -> str:
    """A message fit for a dead-letter reason or a log line: no object reprs, memory addresses or byte dumps,
    URLs without credentials, one line, bounded."""
    from ampere.urls import redact_text

    text = redact_text(str(text))
    text = _ADDR.sub("", text)
    text = _REPR.sub(lambda m: f"<{m.group(1).rsplit('.', 1)[-1]}>", text)
    text = _HEX.sub("0x…", text)
    text = _BYTES.sub("b'…'", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """``TypeName: scrubbed message`` of an exception we did not raise on purpose."""
    msg = scrub(str(exc))
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def category_of(reason: str) -> str:
    """The category of a dead-letter reason (its prefix up to the first colon), or ``other``."""
    head = (reason or "").split(":", 1)[0].strip()
    return head if head in CATEGORIES else "other"
