"""Versioned, schema-checked Kafka records.

Records between the pipeline's stages travel as msgpack maps with a schema version ``v`` and a ``type``; the
two topics other programs read, tags and dead letters, carry JSON with a published JSON Schema (the "JSON
feeds" block below). Faust
topics are declared raw so that decoding happens here: a record that fails any
check raises :class:`BadRecord` with a reason, and the agent sends the original
bytes to the dead-letter topic instead of crashing or silently dropping it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import msgpack

from ampere.errors import CATEGORIES, PoisonRecord, category_of
from ampere.grid import valid_stream_id, window_id

SCHEMA_VERSION = 1


class BadRecord(PoisonRecord):
    """A record that cannot be decoded or does not fit its schema; ``str(exc)`` is the reason."""


def _check_type(name: str, value: Any, typ: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) and typ in (int, float, (int, float)):
        raise BadRecord(f"field {name!r}: expected {getattr(typ, '__name__', typ)}, got bool")
    if not isinstance(value, typ):
        want = typ.__name__ if isinstance(typ, type) else "number"
        raise BadRecord(f"field {name!r}: expected {want}, got {type(value).__name__}")


_NUMBER = (int, float)
_TYPE_OF: dict[str, Any] = {"str": str, "bytes": bytes, "int": int, "float": _NUMBER, "list": list, "dict": dict}


@dataclass
class Record:
    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["v"] = SCHEMA_VERSION
        d["type"] = self.TYPE
        return d

    def encode(self) -> bytes:
        return msgpack.packb(self.to_dict(), use_bin_type=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in d:
                value = d[f.name]
                typ = _TYPE_OF[f.type if isinstance(f.type, str) else f.type.__name__]
                _check_type(f.name, value, typ)
                if typ is _NUMBER and not math.isfinite(value):
                    raise BadRecord(f"field {f.name!r}: not a finite number")
                kwargs[f.name] = value
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise BadRecord(f"{cls.TYPE}: missing field {f.name!r}")
        rec = cls(**kwargs)
        rec.validate()
        return rec

    def validate(self) -> None:
        stream_id = getattr(self, "stream_id", None)
        if stream_id is not None and not valid_stream_id(stream_id):
            raise BadRecord(
                f"{self.TYPE}: bad stream_id {str(stream_id)[:40]!r} (letters, digits and _.:@- only, at most 128)"
            )


# --- ingest -------------------------------------------------------------------------------


@dataclass
class AudioChunk(Record):
    TYPE: ClassVar[str] = "audio"
    stream_id: str
    seq: int
    t0: float
    sample_rate: int
    codec: str
    data: bytes

    def validate(self) -> None:
        super().validate()
        if self.codec != "flac":
            raise BadRecord(f"audio: unsupported codec {self.codec!r} (expected 'flac')")
        if self.t0 < 0:
            raise BadRecord("audio: negative t0")


@dataclass
class Keyframe(Record):
    TYPE: ClassVar[str] = "frame"
    stream_id: str
    seq: int
    t: float
    codec: str
    data: bytes  # the whole frame, small (ingest.frame_size): for the visual tower
    full: bytes = b""  # now and then the same frame readable (ingest.full_size), for OCR

    def validate(self) -> None:
        super().validate()
        if self.codec != "jpeg":
            raise BadRecord(f"frame: unsupported codec {self.codec!r} (expected 'jpeg')")
        if self.t < 0:
            raise BadRecord("frame: negative t")


@dataclass
class StreamEnd(Record):
    TYPE: ClassVar[str] = "end"
    stream_id: str
    t: float


@dataclass
class StreamInfo(Record):
    """What the platform knows about a stream: the products linked to it (its shopping bag). Optional; may come
    at any time and replaces what was known. Published by ``ampere replay --products`` or by the platform."""

    TYPE: ClassVar[str] = "stream"
    stream_id: str
    products: list = field(default_factory=list)  # product ids
    title: str = ""

    def validate(self) -> None:
        super().validate()
        if len(self.products) > 1000 or not all(isinstance(p, str) and 0 < len(p) <= 200 for p in self.products):
            raise BadRecord("stream: products must be at most 1000 non-empty ids of at most 200 characters")


# --- pipeline stages ----------------------------------------------------------------------


@dataclass
class WindowReady(Record):
    TYPE: ClassVar[str] = "window"
    stream_id: str
    start: float
    end: float
    blob_key: str
    n_frames: int
    closed_at: float  # wall clock (epoch s) when the window closed; e2e latency starts here
    final: int = 0  # 1 on a stream's last window
    n_full: int = 0  # readable frames stored with the window (blob parts full0..), for OCR
    full_times: list = field(default_factory=list)  # their media times
    rms: float = -1.0  # RMS of the window's audio (-1: unknown); digital silence shows no product
    redrive: int = 0  # 1: re-published by the repair sweep (the window may only have been queued)

    @property
    def window_id(self) -> str:
        return window_id(self.stream_id, self.start)


@dataclass
class Transcribed(WindowReady):
    TYPE: ClassVar[str] = "transcript"
    text: str = ""  # what was said, catalogue names corrected (ampere/names.py): what later stages read
    raw_text: str = ""  # the recognizer's words as they came
    no_speech_prob: float = 0.0
    asr_ms: float = 0.0
    # text read on the window's readable keyframes: [text, score, x0, y0, x1, y1, frame time] (ampere.ocr)
    screen: list = field(default_factory=list)
    ocr_ms: float = 0.0
    prompted: int = 0  # 1: recognised with the names of the stream's likely products as prompt
    new_text: str = ""  # what the window adds to the one before it (its last hop), names corrected


@dataclass
class Summarized(Transcribed):
    TYPE: ClassVar[str] = "summary"
    summary: str = ""
    summary_ms: float = 0.0


@dataclass
class Embedded(Summarized):
    TYPE: ClassVar[str] = "embedding"
    vector: bytes = b""  # float32, L2-normalised
    embed_ms: float = 0.0
    indexed_at: float = 0.0
    # the visual tower's product-in-frame score (encoders.runtime.Embedding.presence), read only when
    # presence_known is 1 (a model without the output leaves it 0: the tagger then uses no visual evidence
    # for "no product")
    presence: float = 0.0
    presence_known: int = 0


@dataclass
class Tag(Record):
    TYPE: ClassVar[str] = "tag"
    stream_id: str
    start: float
    end: float
    product_id: str
    score: float
    candidates: list = field(default_factory=list)  # [[product_id, score], ...]
    summary: str = ""
    e2e_ms: float = 0.0
    # "product": product_id is on air; "none": no product is on air (intro, outro, chatter), product_id ""
    decision: str = "product"
    confidence: float = 0.0  # 0..1: how far the decision is ahead of the runner-up
    # 1: this tag revises the one published for the same window before (the segmenter looks one window ahead)
    correction: int = 0


RECORD_TYPES: dict[str, type[Record]] = {
    cls.TYPE: cls
    for cls in (AudioChunk, Keyframe, StreamEnd, StreamInfo, WindowReady, Transcribed, Summarized, Embedded, Tag)
}


def describe(rec: Record, hop_s: float | None = None) -> str:
    """Which record this is and which window it belongs to, for dead-letter reasons and logs (stable wording,
    no payload): ``audio live000#12 at 12.000 s (window live000:8000)``, ``transcript of window live000:8000``."""
    if isinstance(rec, WindowReady):
        return f"window {rec.window_id}" if type(rec) is WindowReady else f"{rec.TYPE} of window {rec.window_id}"
    stream = getattr(rec, "stream_id", "?")
    t = getattr(rec, "t0", getattr(rec, "t", None))
    if isinstance(rec, StreamEnd):
        return f"end of {stream} at {rec.t:.3f} s"
    if isinstance(rec, Tag):
        return f"tag of window {window_id(rec.stream_id, rec.start)}"
    seq = getattr(rec, "seq", None)
    what = f"{rec.TYPE} {stream}" + (f"#{seq}" if seq is not None else "")
    if t is None:
        return what
    what += f" at {t:.3f} s"
    if hop_s and 0 <= t < 1e12:
        what += f" (window {window_id(stream, math.floor(t / hop_s + 1e-9) * hop_s)})"
    return what


def decode(
    raw: bytes | None, *, expect: tuple[type[Record], ...] | None = None, max_bytes: int | None = None
) -> Record:
    """Decode and check one record; raise BadRecord with the reason on any problem."""
    if raw is None:
        raise BadRecord("empty message (no value)")
    if not isinstance(raw, (bytes, bytearray)):
        raise BadRecord(f"value is {type(raw).__name__}, expected bytes")
    if max_bytes is not None and len(raw) > max_bytes:
        raise BadRecord(f"oversized record: {len(raw)} bytes > limit {max_bytes}")
    try:
        d = msgpack.unpackb(raw, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise BadRecord(f"not a msgpack record: {exc.__class__.__name__}") from None
    if not isinstance(d, dict):
        raise BadRecord(f"record is a {type(d).__name__}, expected a map")
    v = d.get("v")
    if v != SCHEMA_VERSION:
        raise BadRecord(f"unknown schema version {v!r} (this worker reads v{SCHEMA_VERSION})")
    cls = RECORD_TYPES.get(str(d.get("type")))
    if cls is None:
        raise BadRecord(f"unknown record type {d.get('type')!r}")
    if expect is not None and cls not in expect:
        raise BadRecord(f"unexpected record type {cls.TYPE!r} on this topic")
    return cls.from_dict(d)


@dataclass
class DeadLetter:
    """A record that could not be processed, as published on the dead-letter topic: JSON (UTF-8) with the
    original bytes base64-encoded (``ampere/schemas/dead-letter.v1.json``, docs/FEEDS.md)."""

    source_topic: str
    partition: int
    offset: int
    reason: str
    payload: bytes
    key: bytes | None = None

    @property
    def category(self) -> str:
        return reason_category(self.reason)

    def encode(self) -> bytes:
        return _json_bytes(
            {
                "v": FEED_VERSION,
                "type": "dead-letter",
                "source_topic": self.source_topic,
                "partition": int(self.partition),
                "offset": int(self.offset),
                "reason": self.reason,
                "category": self.category,
                "payload_base64": base64.b64encode(bytes(self.payload or b"")).decode("ascii"),
                "key_base64": None if self.key is None else base64.b64encode(bytes(self.key)).decode("ascii"),
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> DeadLetter:
        if raw[:1] != b"{":  # written before the JSON feed (msgpack)
            d = msgpack.unpackb(raw, raw=False)
            return cls(**{f.name: d.get(f.name) for f in dataclasses.fields(cls)})
        d = _json_map(raw, "dead-letter")
        try:
            key = d.get("key_base64")
            return cls(
                source_topic=str(d["source_topic"]),
                partition=int(d["partition"]),
                offset=int(d["offset"]),
                reason=str(d["reason"]),
                payload=base64.b64decode(d["payload_base64"], validate=True),
                key=None if key is None else base64.b64decode(key, validate=True),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRecord(f"dead-letter: bad field ({type(exc).__name__}: {exc})") from None


# --- JSON feeds for any client ---------------------------------------------------------------
#
# The tags and dead-letter topics are read by code outside this repository (shop frontends, dashboards), so
# they carry JSON (UTF-8), not msgpack, each with a versioned JSON Schema shipped in the package
# (ampere/schemas/*.v1.json). Within a version, fields may be added (consumers ignore unknown ones); a change
# that breaks a consumer bumps "v" and the schema file.

FEED_VERSION = 1
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def feed_schema(name: str, version: int = FEED_VERSION) -> dict:
    """The JSON Schema of a feed: ``name`` in tag | dead-letter."""
    return json.loads((SCHEMA_DIR / f"{name}.v{version}.json").read_text())


def _json_bytes(d: dict) -> bytes:
    try:
        return json.dumps(d, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except ValueError as exc:  # NaN or inf: JSON has no such numbers
        raise BadRecord(f"{d.get('type')}: cannot encode as JSON ({exc})") from None


def _json_map(raw: bytes | None, type_: str) -> dict:
    if raw is None:
        raise BadRecord("empty message (no value)")
    try:
        d = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRecord(f"not a JSON record: {type(exc).__name__}") from None
    if not isinstance(d, dict):
        raise BadRecord(f"record is a {type(d).__name__}, expected an object")
    if d.get("v") != FEED_VERSION:
        raise BadRecord(f"unknown schema version {d.get('v')!r} (this reader reads v{FEED_VERSION})")
    if d.get("type") != type_:
        raise BadRecord(f"unexpected record type {d.get('type')!r} (expected {type_!r})")
    return d


def encode_tag_json(tag: Tag, published_at: float | None = None) -> bytes:
    """A tag as the tags topic carries it (``ampere/schemas/tag.v1.json``)."""
    return _json_bytes(
        {
            "v": FEED_VERSION,
            "type": "tag",
            "stream_id": tag.stream_id,
            "window_id": window_id(tag.stream_id, tag.start),
            "start": float(tag.start),
            "end": float(tag.end),
            "product_id": tag.product_id or None,
            "score": float(tag.score),
            "candidates": [{"product_id": str(c[0]), "score": float(c[1])} for c in tag.candidates],
            "summary": tag.summary,
            "e2e_ms": float(tag.e2e_ms),
            "decision": tag.decision,
            "confidence": float(tag.confidence),
            "correction": bool(tag.correction),
            "published_at": time.time() if published_at is None else float(published_at),
        }
    )


def decode_tag_json(raw: bytes | None) -> Tag:
    """A message of the tags topic back into a :class:`Tag` (checked as every record is)."""
    d = _json_map(raw, "tag")
    cands = d.get("candidates", [])
    if not isinstance(cands, list) or not all(
        isinstance(c, dict) and "product_id" in c and "score" in c for c in cands
    ):
        raise BadRecord("tag: field 'candidates': expected a list of {product_id, score}")
    fields = {
        k: d[k]
        for k in ("stream_id", "start", "end", "product_id", "score", "summary", "e2e_ms", "decision", "confidence")
        if k in d
    }
    if "product_id" in fields and fields["product_id"] is None:
        fields["product_id"] = ""  # decision "none"
    if "correction" in d:
        fields["correction"] = int(bool(d["correction"]))
    return Tag.from_dict({**fields, "candidates": [[c["product_id"], c["score"]] for c in cands]})


# a dead letter's category: the head of its reason (``ampere.errors``), a bounded label for metrics and consumers
REASON_CATEGORIES = CATEGORIES + ("other",)


def reason_category(reason: str) -> str:
    """A dead letter's reason as one of :data:`REASON_CATEGORIES` (a bounded label; the raw text is not)."""
    return category_of(reason)
