"""Texts for training and evaluation: ASR of every short video and live window, then summaries.

Writes ``DATASET/texts/raw_asr.jsonl``, ``asr_names.jsonl`` (the same with catalogue names corrected, as
the summarizer reads them) and ``DATASET/texts/summary.jsonl``, one
``{"id", "text"}`` line per item (summary lines also carry ``"model"``). Both files
are caches: ids already present are skipped, and lines are appended as they are
made, so an interrupted run resumes where it stopped. A summary made by another
summarizer kind than the one asked for is made again.

ASR runs in worker processes (one Whisper thread each: one thread per call
measured faster than two), one task per short video or per slice of a stream's
windows, so a stream's audio is decoded once per task rather than once per window.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ampere.settings import Settings

MODES = ("raw_asr", "screen", "summary")


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                # a line cut by an interrupted run: ignore it, the item is made again
                continue
    return rows


def read_texts(path: Path) -> dict[str, str]:
    return {r["id"]: r["text"] for r in _read_jsonl(path) if "id" in r and "text" in r}


def _require(path: Path, what: str) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: is {path.parent} a generated dataset ({what})?")
    return _read_jsonl(path)


def asr_tasks(dataset_dir: Path, done: set[str]) -> list[tuple]:
    """(kind, path, [(id, start, end)]) work items for everything not transcribed yet: one per short video,
    one per live stream (its windows in order: chunked ASR carries what it heard from window to window, as
    the live path does)."""
    ds = Path(dataset_dir)
    tasks: list[tuple] = []
    streams = {s["stream_id"]: str(ds / s["path"]) for s in _read_jsonl(ds / "live.jsonl")}
    by_stream: dict[str, list] = {}
    for w in _read_jsonl(ds / "windows.jsonl"):
        if w["stream_id"] not in streams:
            raise ValueError(f"window {w['id']}: stream {w['stream_id']!r} is not in live.jsonl")
        by_stream.setdefault(w["stream_id"], []).append((w["id"], float(w["start"]), float(w["end"])))
    for sid, wins in by_stream.items():  # long jobs first, so the pool does not end on one stream
        if any(wid not in done for wid, _, _ in wins):
            tasks.append(("live", streams[sid], sorted(wins, key=lambda x: x[1])))
    for v in _require(ds / "videos.jsonl", "videos.jsonl"):
        if v["id"] not in done:
            tasks.append(("video", str(ds / v["path"]), [(v["id"], 0.0, None)]))
    return tasks


_worker_transcriber = None


def _transcribe_task(task: tuple, settings_dict: dict) -> list[tuple[str, str]]:
    global _worker_transcriber
    from ampere import media
    from ampere.asr import ChunkState, Transcriber, transcribe_window

    settings = Settings(**settings_dict)
    if _worker_transcriber is None:
        _worker_transcriber = Transcriber(settings.asr)
    kind, path, items = task
    sr = 16000
    if kind == "video":
        pcm = media.read_audio(path, 0.0, None, sr)
        return [(items[0][0], _worker_transcriber.transcribe(pcm).text)]
    pcm = media.read_audio(path, 0.0, max(e for _, _, e in items), sr)  # decoded once per stream
    if not settings.asr.chunked:
        return [(wid, _worker_transcriber.transcribe(pcm[int(s * sr) : int(e * sr)]).text) for wid, s, e in items]
    state, out = ChunkState(), []
    for wid, s, e in items:
        text, _ = transcribe_window(
            _worker_transcriber, state, s, e, pcm[int(s * sr) : int(e * sr)], sr, settings.asr.overlap_s
        )
        out.append((wid, text))
    return out


# --- on-screen text of the live windows (ampere.ocr), as the live path reads it ---------------------------


def screen_tasks(dataset_dir: Path, done: set[str]) -> list[tuple[str, list[tuple[str, float, float]]]]:
    ds = Path(dataset_dir)
    streams = {s["stream_id"]: str(ds / s["path"]) for s in _read_jsonl(ds / "live.jsonl")}
    by_stream: dict[str, list] = {}
    for w in _read_jsonl(ds / "windows.jsonl"):
        by_stream.setdefault(w["stream_id"], []).append((w["id"], float(w["start"]), float(w["end"])))
    return [
        (streams[sid], sorted(wins, key=lambda x: x[1]))
        for sid, wins in by_stream.items()
        if any(wid not in done for wid, _, _ in wins)
    ]


_worker_reader = None


def _screen_task(task: tuple, settings_dict: dict) -> list[dict]:
    """OCR of a stream's readable frames (every ``ingest.full_every_s``, as ``ampere replay`` sends them),
    each frame read once and given to every window it falls in."""
    global _worker_reader
    from ampere import media
    from ampere.ocr import Reader

    settings = Settings(**settings_dict)
    if _worker_reader is None:
        _worker_reader = Reader(settings.ocr)
    path, wins = task
    every = settings.ingest.full_every_s or settings.windows.hop_s
    end = max(e for _, _, e in wins)
    times = [round(k * every, 3) for k in range(int(end / every) + 1) if k * every < end]
    try:
        frames = media.read_frames(path, times, settings.ingest.full_size)
    except media.MediaError:  # an audio-only stream shows nothing
        return [{"id": wid, "lines": []} for wid, _, _ in wins]
    lines = {}
    for t, frame in zip(times, frames):
        lines[t] = [
            [ln.text, round(ln.score, 3), *[round(v, 4) for v in ln.box], t]
            for ln in _worker_reader.read(frame, stream=path)
        ]
    return [{"id": wid, "lines": [ln for t in times if s <= t < e for ln in lines[t]]} for wid, s, e in wins]


def run_screen(dataset_dir: Path, settings: Settings, workers: int = 2, progress: Callable = print) -> Path:
    out = Path(dataset_dir) / "texts" / "screen.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {r["id"] for r in _read_jsonl(out) if "id" in r}
    tasks = screen_tasks(dataset_dir, done)
    if not tasks:
        progress(f"screen: {len(done)} windows cached, nothing to do")
        return out
    sdict = settings.model_dump(mode="json")
    bar = tqdm(total=sum(len(t[1]) for t in tasks), desc="screen (OCR)", unit="window", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=mp.get_context("spawn")) as ex:
        for fut in as_completed([ex.submit(_screen_task, t, sdict) for t in tasks]):
            rows = [r for r in fut.result() if r["id"] not in done]
            _append(out, rows)
            bar.update(len(rows))
    bar.close()
    return out


def _append(path: Path, rows: Iterable[dict]) -> None:
    with path.open("a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
        f.flush()


def run_asr(dataset_dir: Path, settings: Settings, workers: int = 2, progress: Callable = print) -> dict[str, str]:
    out = Path(dataset_dir) / "texts" / "raw_asr.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    texts = read_texts(out)
    tasks = asr_tasks(dataset_dir, set(texts))
    n_items = sum(len(t[2]) for t in tasks)
    if not n_items:
        progress(f"raw_asr: {len(texts)} texts cached, nothing to do")
        return texts
    progress(f"raw_asr: {n_items} items to transcribe ({len(texts)} cached), {workers} process(es)")
    sdict = settings.model_dump(mode="json")
    bar = tqdm(total=n_items, desc="raw_asr", unit="item", file=sys.stderr)

    def collect(rows: list[tuple[str, str]]) -> None:
        _append(out, ({"id": i, "text": t} for i, t in rows))
        texts.update(rows)
        bar.update(len(rows))

    if workers <= 1 or len(tasks) == 1:
        for t in tasks:
            collect(_transcribe_task(t, sdict))
    else:
        # spawn: no model or thread state is inherited from the caller
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for fut in as_completed([ex.submit(_transcribe_task, t, sdict) for t in tasks]):
                collect(fut.result())
    bar.close()
    return texts


def summary_order(dataset_dir: Path, ids) -> list[tuple[str, str | None]]:
    """(item id, id of the item whose facts are its context) in the order summaries must be made:
    short videos stand alone; a stream's windows follow each other, each reading the facts its
    predecessor left (as the live path does)."""
    ds = Path(dataset_dir)
    ids = set(ids)
    order: list[tuple[str, str | None]] = [(v["id"], None) for v in _read_jsonl(ds / "videos.jsonl") if v["id"] in ids]
    by_stream: dict[str, list[dict]] = {}
    for w in _read_jsonl(ds / "windows.jsonl"):
        by_stream.setdefault(w["stream_id"], []).append(w)
    for wins in by_stream.values():
        wins.sort(key=lambda w: float(w["start"]))
        prev = None
        for w in wins:
            if w["id"] in ids:
                order.append((w["id"], prev))
                prev = w["id"]
    return order


def _chains(order: list[tuple[str, str | None]], videos_per_chain: int = 40) -> list[list[tuple[str, str | None]]]:
    """Split the summary order into independent runs: each stream's windows in order (each reads its
    predecessor's facts); short videos, which stand alone, in groups."""
    is_prev = {p for _, p in order if p is not None}
    chains: list[list[tuple[str, str | None]]] = []
    videos: list[tuple[str, str | None]] = []
    for i, prev in order:
        if prev is not None and chains and chains[-1][-1][0] == prev:
            chains[-1].append((i, prev))
        elif prev is None and i not in is_prev:
            videos.append((i, None))
        else:  # a stream's first window, or the first one left to do after an interrupted run
            chains.append([(i, prev)])
    return chains + [videos[k : k + videos_per_chain] for k in range(0, len(videos), videos_per_chain)]


_worker_summarizers: dict[str, Any] = {}  # make_summarizer's summarizers (no common base class)


def _summarize_chain(
    chain, texts: dict[str, str], facts_before: dict[str, str], settings_dict: dict, names: list[str] | None = None
) -> list[dict]:
    """One stream's windows in order (or a group of videos), as ``Pipeline.summarize`` makes them: each reads
    the facts (and their ages) its predecessor left, with the catalogue's names as the guard's vocabulary."""
    from ampere.pipeline import read_facts
    from ampere.summarize import EMPTY, NameVocabulary, make_summarizer

    key = json.dumps(settings_dict, sort_keys=True, default=str)
    if key not in _worker_summarizers:  # one model per process and settings
        _worker_summarizers[key] = make_summarizer(Settings(**settings_dict).summarizer)
    summarizer = _worker_summarizers[key]
    vocab = NameVocabulary(names) if names else None
    facts = dict(facts_before)
    rows = []
    for i, prev in chain:
        before, ages = read_facts(facts.get(prev) if prev else None)
        s = summarizer.summarize(texts[i], before=before, names=vocab, ages=ages)
        facts[i] = json.dumps({"facts": s.facts, "ages": s.ages}) if s.facts else ""
        rows.append({"id": i, "text": s.text or EMPTY, "facts": facts[i], "model": s.model, "ms": round(s.ms, 1)})
    return rows


def catalogue_names(dataset_dir: Path) -> list[str]:
    """Every product name the dataset's catalogue gives (what a worker reads from Redis)."""
    from ampere.names import names_of

    return sorted({n for row in _read_jsonl(Path(dataset_dir) / "catalog.jsonl") for n in names_of(row)})


def input_snapper(dataset_dir: Path, settings: Settings):
    """The dataset catalogue's names (what a worker reads from Redis), or None when correction is off."""
    if not settings.names.correction:
        return None
    from ampere.names import snapper_from_rows

    return snapper_from_rows(_read_jsonl(Path(dataset_dir) / "catalog.jsonl"), settings.names.min_score)


def run_summaries(
    dataset_dir: Path,
    texts: dict[str, str],
    settings: Settings,
    progress: Callable = print,
    workers: int = 1,
    out: Path | None = None,
) -> dict[str, str]:
    """Summaries of every text, made as the live path makes them (a window reads the facts its stream's
    previous window left). ``texts`` are what the summarizer reads: name-corrected when
    ``settings.names.correction`` is on (``prepare_texts`` does that). With workers > 1, independent chains
    (streams, groups of videos) run in parallel processes of one LLM thread each."""
    from ampere.summarize import make_summarizer

    out = out or Path(dataset_dir) / "texts" / "summary.jsonl"
    name = make_summarizer(settings.summarizer).name + ("+names" if settings.names.correction else "")
    rows = _read_jsonl(out)
    stale = [r for r in rows if r.get("model", name) != name]
    if stale:  # made by another summarizer (kind or adapter): start the file again
        progress(f"summary: {len(stale)} summaries were made by another summarizer; redoing all")
        out.unlink()
        rows = []
    have = {r["id"]: r["text"] for r in rows if "id" in r and "text" in r}
    facts = {r["id"]: r.get("facts", "") for r in rows if "id" in r}
    order = [(i, prev) for i, prev in summary_order(dataset_dir, texts) if i not in have]
    chains = _chains(order)
    progress(
        f"summary: {len(order)} to make with {name} ({len(have)} cached), {len(chains)} chains, {workers} process(es)"
    )
    done, ms = 0, []

    def collect(new_rows):
        nonlocal done
        _append(out, [{**{k: v for k, v in r.items() if k != "ms"}, "model": name} for r in new_rows])
        for r in new_rows:
            have[r["id"]], facts[r["id"]] = r["text"], r["facts"]
            ms.append(r["ms"])
        before = done
        done += len(new_rows)
        if done == len(order) or done // 50 != before // 50:
            progress(f"summary: {done}/{len(order)}, {sum(ms) / len(ms):.0f} ms each")

    names = catalogue_names(dataset_dir)
    if workers <= 1:
        sdict = settings.model_dump(mode="json")
        for chain in chains:
            collect(_summarize_chain(chain, texts, facts, sdict, names))
    else:
        sdict = settings.with_options(summarizer={"threads": 1}).model_dump(mode="json")
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            futs = [
                ex.submit(
                    _summarize_chain,
                    c,
                    {i: texts[i] for i, _ in c},
                    {p: facts[p] for _, p in c[:1] if p is not None and p in facts},
                    sdict,
                    names,
                )
                for c in chains
            ]
            for fut in as_completed(futs):
                collect(fut.result())
    return have


def prepare_texts(
    dataset_dir,
    settings: Settings,
    modes: tuple[str, ...] = MODES,
    progress: Callable = print,
    workers: int | None = None,
) -> dict[str, Path]:
    """Make the texts the encoders train on; returns {mode: path}. 'summary' implies 'raw_asr' (its input)."""
    ds = Path(dataset_dir)
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown text mode(s) {bad}; choose from {list(MODES)}")
    if not ds.is_dir():
        raise FileNotFoundError(f"dataset directory {ds} does not exist")
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    texts = run_asr(ds, settings, workers=workers, progress=progress)
    paths_screen = {}
    if "screen" in modes:
        paths_screen["screen"] = run_screen(ds, settings, workers=workers, progress=progress)
    paths = {"raw_asr": ds / "texts" / "raw_asr.jsonl"}
    snapper = input_snapper(ds, settings)
    if snapper is not None:  # the transcripts as the summarizer reads them (cheap: made again every run)
        texts = {i: snapper.correct(t) for i, t in texts.items()}
        paths["asr_names"] = ds / "texts" / "asr_names.jsonl"
        paths["asr_names"].write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in texts.items()))
        progress(f"asr_names: {len(texts)} transcripts with catalogue names corrected")
    if "summary" in modes:
        run_summaries(ds, texts, settings, progress, workers=workers)
        paths["summary"] = ds / "texts" / "summary.jsonl"
    paths.update(paths_screen)
    return {m: p for m, p in paths.items() if m in modes or m == "asr_names"}
