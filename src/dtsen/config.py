"""One configuration for every command: defaults, then a TOML file, then ``DTSEN_*`` environment variables.

Defaults work with no configuration at all (data in ``./data``, DuckDB, SQLite), so the demo runs on a
fresh machine; production sets ``DTSEN_DATABASE_URL`` and ``DTSEN_ENGINE=spark``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "DTSEN_CONFIG"
DEFAULT_CONFIG_FILE = "dtsen.toml"


def toml_source(settings_cls: type[BaseSettings]) -> PydanticBaseSettingsSource:
    """pydantic-settings' TOML source over ``$DTSEN_CONFIG`` or ``./dtsen.toml``: its ``[dtsen]`` table if
    it has one, else its top level. A broken file is an error that names it."""
    path = config_file_path()
    try:
        source = TomlConfigSettingsSource(settings_cls, toml_file=path)
        if "dtsen" in source.toml_data:
            source = TomlConfigSettingsSource(settings_cls, toml_file=path, toml_table_header=("dtsen",))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"configuration file {path}: {exc}") from exc
    return source


def config_file_path() -> Path | None:
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ValueError(f"{CONFIG_ENV}={explicit} does not name a readable file")
        return path
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Every setting, its default and its environment variable (``DTSEN_`` + upper-case name)."""

    model_config = SettingsConfigDict(env_prefix="DTSEN_", extra="forbid", validate_default=True)

    data_dir: Path = Field(Path("data"), description="Root of landing zone, work tables and snapshots.")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="Batch engine for the pipeline.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the serving database; default SQLite in data_dir."
    )
    secret_key: SecretStr | None = Field(
        None, description="Signing key for sessions and tokens; default: generated once into data_dir."
    )
    threads: int = Field(0, ge=0, description="Worker threads for DuckDB/Polars; 0 means all cores.")
    memory_limit: str = Field("8GB", description="DuckDB memory limit for batch steps.")
    ingest_jobs: int = Field(
        2, ge=1, description="Source files a cycle ingests side by side (each is its own batch)."
    )
    spark_master: str = Field("local[2]", description="Spark master URL when engine=spark.")
    spark_driver_memory: str = Field(
        "4g", description="Heap of the Spark driver dtsen starts (in local mode also its executors')."
    )
    spark_shuffle_partitions: int = Field(
        4, ge=1, description="Spark's shuffle partitions: 4 suits local[2]; on a cluster 2-3 x its cores."
    )
    work_dir: Path | None = Field(
        None,
        description="Scratch for engine work tables a step reads back (the snapshot diff, Splink's "
        "checkpoints); default the system temp dir. On a Spark cluster a directory of the shared volume.",
    )
    log_level: str = Field("INFO", description="Standard logging level name.")
    log_format: Literal["text", "json"] = Field("text", description="Human text or one JSON object a line.")
    dci_receiver_id: str = Field(
        "dtsen",
        min_length=1,
        max_length=64,
        description="Our DCI id: receiver_id of requests, sender_id of replies.",
    )
    dci_page_size_max: int = Field(
        1000, ge=1, le=100_000, description="Largest DCI search page_size a client may ask for."
    )
    dci_batch_max: int = Field(
        10_000, ge=1, le=1_000_000, description="Most search_request items (total_count) in one DCI message."
    )
    dci_sync_batch_max: int = Field(
        100, ge=1, le=100_000, description="Most search_request items a sync DCI search answers at once."
    )
    dci_deliver_in_app: bool = Field(
        True,
        description="Run async DCI searches and callback pushes in the app (else only `dtsen dci deliver`).",
    )
    dci_deliver_interval: float = Field(
        5.0, gt=0, le=3600, description="Seconds between the app's DCI delivery runs."
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, toml_source(settings_cls), file_secret_settings

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dtsen.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated on first use and kept (mode 0600) in data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / ".secret_key"
        if path.exists():
            return path.read_text(encoding="ascii").strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key)
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and the CLI's --config option change the environment)."""
    get_settings.cache_clear()
