"""The JSON feeds other programs read (tags, dead letters): encoding, the published schemas, reason categories."""

import json

import jsonschema
import msgpack
import pytest

from ampere.records import (
    REASON_CATEGORIES,
    SCHEMA_VERSION,
    BadRecord,
    DeadLetter,
    Tag,
    decode_tag_json,
    encode_tag_json,
    feed_schema,
    reason_category,
)


def tag(**kw):
    return Tag(
        **{
            "stream_id": "live-7",
            "start": 4.0,
            "end": 12.0,
            "product_id": "p0003",
            "score": 2.41,
            "candidates": [["p0003", 2.41], ["p0004", 1.2]],
            "summary": "brand: Farra | price: $150",
            "e2e_ms": 812.5,
            **kw,
        }
    )


def test_a_tag_is_utf8_json_that_fits_its_schema_and_decodes_back():
    t = tag(summary="café 商品")
    raw = encode_tag_json(t, published_at=1700000000.0)
    msg = json.loads(raw.decode("utf-8"))
    jsonschema.Draft202012Validator.check_schema(feed_schema("tag"))
    jsonschema.validate(msg, feed_schema("tag"), format_checker=jsonschema.FormatChecker())
    assert msg["window_id"] == "live-7:4000" and msg["candidates"][1] == {"product_id": "p0004", "score": 1.2}
    assert "café 商品".encode() in raw  # UTF-8, not \\u escapes
    assert decode_tag_json(raw) == t


def test_no_product_and_corrections_travel_as_such():
    none = tag(product_id="", decision="none", confidence=0.8, candidates=[["p0003", 0.4]])
    msg = json.loads(encode_tag_json(none))
    jsonschema.validate(msg, feed_schema("tag"))
    assert msg["product_id"] is None and msg["decision"] == "none" and msg["correction"] is False
    assert decode_tag_json(encode_tag_json(none)) == none
    fix = tag(correction=1, confidence=0.25)
    msg = json.loads(encode_tag_json(fix))
    jsonschema.validate(msg, feed_schema("tag"))
    assert msg["correction"] is True and decode_tag_json(encode_tag_json(fix)) == fix


def test_unknown_fields_are_ignored_within_a_version():
    msg = json.loads(encode_tag_json(tag()))
    msg["added_later"] = {"x": 1}
    raw = json.dumps(msg).encode()
    jsonschema.validate(msg, feed_schema("tag"))
    assert decode_tag_json(raw).product_id == "p0003"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\x93\x01\x02", "not a JSON record"),
        (b"[1, 2]", "expected an object"),
        (json.dumps({"v": 2, "type": "tag"}).encode(), "unknown schema version 2"),
        (json.dumps({"v": 1, "type": "dead-letter"}).encode(), "unexpected record type"),
        (
            json.dumps({"v": 1, "type": "tag", "stream_id": "s", "start": 0, "end": 8, "score": 1}).encode(),
            "missing field 'product_id'",
        ),
        (
            json.dumps(
                {
                    "v": 1,
                    "type": "tag",
                    "stream_id": "s",
                    "start": 0,
                    "end": 8,
                    "product_id": "p",
                    "score": 1,
                    "candidates": [["p", 1]],
                }
            ).encode(),
            "candidates",
        ),
        (None, "empty message"),
    ],
)
def test_bad_tag_messages_have_reasons(raw, reason):
    with pytest.raises(BadRecord, match=reason):
        decode_tag_json(raw)


def test_a_tag_json_cannot_carry_cannot_be_encoded():
    with pytest.raises(BadRecord, match="JSON"):
        encode_tag_json(tag(score=float("nan")))


def test_a_dead_letter_is_json_with_base64_payload_and_fits_its_schema():
    payload = bytes(range(256))
    dl = DeadLetter(
        source_topic="ampere.media",
        partition=3,
        offset=41,
        reason="bad-record: media record: not a msgpack record: ExtraData",
        payload=payload,
        key=b"live-7",
    )
    msg = json.loads(dl.encode())
    jsonschema.Draft202012Validator.check_schema(feed_schema("dead-letter"))
    jsonschema.validate(msg, feed_schema("dead-letter"))
    assert msg["category"] == "bad-record" and msg["key_base64"] == "bGl2ZS03"
    assert DeadLetter.decode(dl.encode()) == dl
    no_key = DeadLetter(source_topic="t", partition=0, offset=0, reason="x", payload=b"")
    assert json.loads(no_key.encode())["key_base64"] is None and DeadLetter.decode(no_key.encode()) == no_key


def test_a_dead_letter_written_before_the_json_feed_still_decodes():
    old = msgpack.packb(
        {
            "v": SCHEMA_VERSION,
            "type": "dead-letter",
            "source_topic": "t",
            "partition": 1,
            "offset": 2,
            "reason": "r",
            "payload": b"\x00",
            "key": None,
        },
        use_bin_type=True,
    )
    assert DeadLetter.decode(old) == DeadLetter("t", 1, 2, "r", b"\x00", None)


@pytest.mark.parametrize(
    "reason, category",
    [
        ("bad-record: media record: not a msgpack record: ExtraData", "bad-record"),
        ("bad-record: audio live000#3: missing field 'sample_rate'", "bad-record"),
        ("bad-media: audio live000#3 at 3.000 s (window live000:0): cannot decode audio chunk (31 bytes)", "bad-media"),
        ("media-limit: keyframe live000#9: 9000x9000 px over limits.max_frame_pixels", "media-limit"),
        ("late-media: audio live000#1 at 1.000 s: arrived after its window closed", "late-media"),
        ("missing-blob: window live000:4000: media ampere:blob:{live000}:4000 expired or missing", "missing-blob"),
        ("transient: window live000:4000: ConnectionError: Error 111 (gave up after 300 s)", "transient"),
        ("internal-error: window live000:4000: RuntimeError: model server down", "internal-error"),
        ("something nobody foresaw, with a user's text in it", "other"),
        ("oversized: a head that is not one of ours", "other"),
    ],
)
def test_dead_letter_reasons_fall_into_a_bounded_set_of_categories(reason, category):
    assert reason_category(reason) == category
    assert category in REASON_CATEGORIES
    assert set(REASON_CATEGORIES) == set(feed_schema("dead-letter")["properties"]["category"]["enum"])


def test_the_feed_doc_shows_the_example_consumers_verbatim():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "FEEDS.md").read_text()
    for name in ("tags_confluent_kafka.py", "tags_kafka_python.py"):
        assert (root / "docs" / "examples" / name).read_text().rstrip() in doc, name
