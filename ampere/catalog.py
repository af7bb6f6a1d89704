"""Index product pages and short videos (the offline side of the shop).

``catalog.jsonl``: ``{"id", "title", "image"}`` (+ optional ``product_id``,
``attributes``); ``videos.jsonl``: ``{"id", "path"}`` (+ optional
``product_id``, ``title``). Relative paths are resolved against the JSONL file's
folder; ``http(s)://`` images are fetched. Bad lines are reported with their
line number and skipped; the rest is indexed.
"""

from __future__ import annotations

import io
import json
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ampere import media
from ampere.asr import WHISPER_RATE
from ampere.attributes import prices_on_screen, valid_price
from ampere.models import Models
from ampere.names import CatalogNames, names_of
from ampere.store import Store
from ampere.summarize import summary_for_embedding
from encoders.frames import segment_centres


@dataclass
class AddReport:
    added: int = 0
    errors: list[str] = field(default_factory=list)


def read_jsonl(path: Path, required: tuple[str, ...]) -> tuple[list[dict], list[str]]:
    rows, errors = [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"{path}:{n}: not JSON ({exc.msg})")
            continue
        missing = [k for k in required if not row.get(k)] if isinstance(row, dict) else list(required)
        if missing:
            errors.append(f"{path}:{n}: missing {', '.join(missing)}")
            continue
        rows.append(row)
    return rows, errors


def load_image(ref: str, base: Path) -> np.ndarray:
    if ref.startswith(("http://", "https://")):
        with urllib.request.urlopen(ref, timeout=30) as resp:
            data = resp.read()
    else:
        p = Path(ref) if Path(ref).is_absolute() else base / ref
        data = p.read_bytes()
    try:
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except Exception as exc:
        raise media.MediaError(f"cannot decode image {ref}: {exc}") from None


def page_fields(row: dict, base: Path) -> dict:
    """What a page item keeps of its catalogue row besides the title: the product's name (brand + model, or
    the title's name run), its price and category as filterable fields, its attributes as JSON (the tagger
    matches prices, materials and colours heard or read on screen against them) and its image (an absolute
    path, or the URL as given, for frontends). None for what the row lacks, so a re-add removes stale values."""
    raw = row.get("attributes")
    attrs: dict = raw if isinstance(raw, dict) else {}
    names = sorted(names_of(row), key=len, reverse=True)
    out: dict = {
        "name": names[0] if names else None,
        "attributes": attrs or None,
        "category": str(attrs.get("category") or "").strip() or None,
    }
    price = valid_price(attrs.get("price")) if "price" in attrs else None
    if price is None:
        seen = prices_on_screen([str(row.get("title") or "")])
        price = seen[0].value if seen else None
    out["price"] = price
    ref = str(row.get("image") or "")
    if ref and not ref.startswith(("http://", "https://")):
        ref = str((Path(ref) if Path(ref).is_absolute() else base / ref).resolve())
    out["image"] = ref or None
    return out


def product_facets(store: Store, product_id: str) -> dict:
    """Category and price of a product's page in the index (for its videos), {} when it has none."""
    if not product_id:
        return {}
    hits = store.index.find(tags={"domain": "page", "product_id": product_id}, sort_by=None, limit=1)
    if not hits:
        return {}
    f = hits[0].fields
    return {"category": f.get("category") or None, "price": float(f["price"]) if f.get("price") else None}


def add_pages(store: Store, path: Path, models: Models, batch: int = 32, progress: bool = True) -> AddReport:
    path = Path(path)
    rows, errors = read_jsonl(path, ("id", "title", "image"))
    report = AddReport(errors=errors)
    bar = tqdm(total=len(rows), desc="pages", unit="page", disable=not progress or None, file=sys.stderr)
    for i in range(0, len(rows), batch):
        bar.update(len(rows[i : i + batch]))
        chunk, images = [], []
        for row in rows[i : i + batch]:
            try:
                images.append([load_image(row["image"], path.parent)])
                chunk.append(row)
            except (OSError, media.MediaError) as exc:
                report.errors.append(f"{row['id']}: {exc}")
        if not chunk:
            continue
        embs = models.embedder.embed_batch(["page"] * len(chunk), images, [row["title"] for row in chunk])
        store.index.upsert_many(
            [
                {
                    "domain": "page",
                    "id": row["id"],
                    "vector": e.fused,
                    "text_embedding": e.text,
                    "visual_embedding": e.visual,
                    "product_id": row.get("product_id") or row["id"],
                    "title": row["title"],
                    "ts": 0,
                    **page_fields(row, path.parent),
                }
                for row, e in zip(chunk, embs)
            ]
        )
        store.index.add_names(n for row in chunk for n in names_of(row))
        report.added += len(chunk)
    bar.close()
    return report


def video_text(path: Path, models: Models, names: CatalogNames) -> tuple[str, str]:
    """(transcript with catalogue names corrected, summary) of a short video's speech."""
    pcm = media.read_audio(str(path), 0.0, None, WHISPER_RATE)
    text = names.correct(models.transcriber.transcribe(pcm).text) if len(pcm) else ""
    summary = models.summarizer.summarize(text).text if text.strip() else "empty"
    return text, summary


def video_frames(path: Path, k: int, size: int) -> list[np.ndarray]:
    # centre frame of each of k equal segments, as the method samples videos
    times = segment_centres(0.0, media.probe_duration(str(path)), k)
    return media.read_frames(str(path), times, size)


def add_videos(store: Store, path: Path, models: Models, progress: bool = True) -> AddReport:
    path = Path(path)
    rows, errors = read_jsonl(path, ("id", "path"))
    report = AddReport(errors=errors)
    settings = models.settings
    names = CatalogNames(store.index, settings.names)
    for row in tqdm(rows, desc="videos", unit="video", disable=not progress or None, file=sys.stderr):
        vp = Path(row["path"]) if Path(row["path"]).is_absolute() else path.parent / row["path"]
        try:
            frames = video_frames(vp, settings.windows.frames_per_window, settings.ingest.frame_size)
            text, summary = video_text(vp, models, names)
        except (OSError, media.MediaError) as exc:
            report.errors.append(f"{row['id']}: {exc}")
            continue
        emb = models.embedder.embed("video", frames, summary_for_embedding(summary))
        store.index.upsert(
            "video",
            row["id"],
            emb.fused,
            text_embedding=emb.text,
            visual_embedding=emb.visual,
            product_id=row.get("product_id") or "",
            title=row.get("title", ""),
            summary=summary,
            ts=0,
            video=str(vp.resolve()),
            **product_facets(store, row.get("product_id") or ""),
        )
        report.added += 1
    return report
