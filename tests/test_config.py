"""Settings: defaults, DTSEN_* environment variables, dtsen.toml / $DTSEN_CONFIG, validation, secrets."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from dtsen.config import Settings, config_file_path, get_settings, reset_settings


@pytest.fixture(autouse=True)
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No DTSEN_* variable, an empty working directory, and no cached settings, before and after."""
    for name in list(os.environ):
        if name.upper().startswith("DTSEN_"):
            monkeypatch.delenv(name)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    reset_settings()
    yield workdir
    reset_settings()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_configuration(clean: Path) -> None:
    assert config_file_path() is None
    settings = Settings()
    assert settings.data_dir == Path("data")
    assert settings.engine == "duckdb"
    assert settings.database_url is None
    assert settings.secret_key is None
    assert settings.threads == 0
    assert settings.memory_limit == "8GB"
    assert settings.spark_master == "local[2]"
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert not (clean / "data").exists()  # reading settings creates nothing


def test_every_field_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert f"DTSEN_{name.upper()}" in doc, name
        assert f"`{name}`" in doc, name


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DTSEN_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("DTSEN_ENGINE", "spark")
    monkeypatch.setenv("DTSEN_DATABASE_URL", "postgresql+psycopg://dtsen@db/dtsen")
    monkeypatch.setenv("DTSEN_SECRET_KEY", "rahasia-sekali")
    monkeypatch.setenv("DTSEN_THREADS", "4")
    monkeypatch.setenv("DTSEN_MEMORY_LIMIT", "64GB")
    monkeypatch.setenv("DTSEN_SPARK_MASTER", "spark://master:7077")
    monkeypatch.setenv("DTSEN_LOG_LEVEL", "debug")
    monkeypatch.setenv("DTSEN_LOG_FORMAT", "json")
    settings = Settings()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.engine == "spark"
    assert settings.database_url == "postgresql+psycopg://dtsen@db/dtsen"
    assert isinstance(settings.secret_key, SecretStr)
    assert settings.secret_key.get_secret_value() == "rahasia-sekali"
    assert "rahasia" not in repr(settings)
    assert settings.threads == 4
    assert settings.memory_limit == "64GB"
    assert settings.spark_master == "spark://master:7077"
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DTSEN_ENGINE", "hadoop"),
        ("DTSEN_THREADS", "-1"),
        ("DTSEN_THREADS", "many"),
        ("DTSEN_LOG_FORMAT", "xml"),
        ("DTSEN_LOG_LEVEL", "VERBOSE"),
    ],
)
def test_invalid_environment_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_unknown_environment_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the file and keyword arguments are checked for unknown keys; the environment is shared with
    other programs, so a stray DTSEN_* variable is not an error (documented in configuration.md)."""
    monkeypatch.setenv("DTSEN_NOT_A_SETTING", "1")
    assert Settings().threads == 0


@pytest.mark.parametrize("table", [True, False])
def test_dtsen_toml_in_the_working_directory(clean: Path, table: bool) -> None:
    body = 'engine = "spark"\nthreads = 3\nlog_level = "warning"\ndata_dir = "/srv/dtsen"\n'
    write(clean / "dtsen.toml", ("[dtsen]\n" + body) if table else body)
    assert config_file_path() == Path("dtsen.toml")
    settings = Settings()
    assert settings.engine == "spark"
    assert settings.threads == 3
    assert settings.log_level == "WARNING"
    assert settings.data_dir == Path("/srv/dtsen")
    assert settings.memory_limit == "8GB"  # not in the file: default


@pytest.mark.parametrize("table", [True, False])
def test_dtsen_config_names_the_file(
    clean: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: bool
) -> None:
    write(clean / "dtsen.toml", "threads = 1\n")  # ignored: $DTSEN_CONFIG wins
    explicit = write(tmp_path / "prod.toml", ("[dtsen]\n" if table else "") + "threads = 8\n")
    monkeypatch.setenv("DTSEN_CONFIG", str(explicit))
    assert config_file_path() == explicit
    assert Settings().threads == 8


def test_dtsen_config_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DTSEN_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="DTSEN_CONFIG"):
        Settings()


def test_broken_toml_names_the_file(clean: Path) -> None:
    write(clean / "dtsen.toml", "threads = \n")
    with pytest.raises(ValueError, match=r"dtsen\.toml"):
        Settings()


def test_with_a_dtsen_table_only_the_table_is_read(clean: Path) -> None:
    write(clean / "dtsen.toml", 'engine = "spark"\n\n[dtsen]\nthreads = 2\n\n[tool.other]\nx = 1\n')
    settings = Settings()
    assert settings.threads == 2
    assert settings.engine == "duckdb"


@pytest.mark.parametrize(
    "body",
    [
        "bogus = 1\n",
        "[dtsen]\nthread = 2\n",
        'engine = "spark"\n[tool]\nx = 1\n',
    ],
)
def test_unknown_keys_in_the_file_are_rejected(clean: Path, body: str) -> None:
    write(clean / "dtsen.toml", body)
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings()


def test_file_keys_are_matched_regardless_of_case_like_the_environment(clean: Path) -> None:
    write(clean / "dtsen.toml", "[dtsen]\nDATA_DIR = 'x'\nThreads = 2\n")
    settings = Settings()
    assert settings.data_dir == Path("x")
    assert settings.threads == 2


def test_unknown_keyword_is_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Settings(bogus=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("level", ["TRACE", "verbose", "", "20"])
def test_bad_log_level_is_rejected(level: str) -> None:
    with pytest.raises(ValidationError, match="log level"):
        Settings(log_level=level)


@pytest.mark.parametrize("level", ["debug", "Info", "WARNING", "error", "critical"])
def test_log_level_is_upper_cased(level: str) -> None:
    assert Settings(log_level=level).log_level == level.upper()


def test_bad_log_level_in_the_file_is_rejected(clean: Path) -> None:
    write(clean / "dtsen.toml", 'log_level = "loud"\n')
    with pytest.raises(ValidationError, match="log level"):
        Settings()


def test_precedence_init_env_file_default(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(clean / "dtsen.toml", 'threads = 1\nmemory_limit = "1GB"\nspark_master = "local[1]"\n')
    monkeypatch.setenv("DTSEN_THREADS", "2")
    monkeypatch.setenv("DTSEN_MEMORY_LIMIT", "2GB")
    settings = Settings(threads=3)
    assert settings.threads == 3  # keyword beats environment
    assert settings.memory_limit == "2GB"  # environment beats file
    assert settings.spark_master == "local[1]"  # file beats default
    assert settings.engine == "duckdb"  # default


def test_get_settings_is_cached_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    assert get_settings() is first
    monkeypatch.setenv("DTSEN_THREADS", "6")
    assert get_settings().threads == 0  # still the cached object
    reset_settings()
    assert get_settings().threads == 6
    assert get_settings() is not first


# --- derived values ---------------------------------------------------------------------------


def test_default_database_is_sqlite_under_data_dir(clean: Path) -> None:
    url = Settings().resolved_database_url
    assert url == f"sqlite:///{clean.resolve() / 'data' / 'dtsen.db'}"
    assert url.startswith("sqlite:////")  # four slashes: an absolute path, whatever the cwd later is


def test_database_url_follows_data_dir_and_explicit_url(tmp_path: Path) -> None:
    assert (
        Settings(data_dir=tmp_path / "x").resolved_database_url == f"sqlite:///{tmp_path / 'x' / 'dtsen.db'}"
    )
    url = "postgresql+psycopg://dtsen@127.0.0.1:5432/dtsen"
    assert Settings(database_url=url).resolved_database_url == url


def test_secret_key_is_generated_once_with_mode_0600(clean: Path) -> None:
    old_umask = os.umask(0)  # the mode must not depend on a strict umask
    try:
        settings = Settings()
        key = settings.resolved_secret_key()
    finally:
        os.umask(old_umask)
    path = clean / "data" / ".secret_key"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="ascii") == key
    assert len(key) >= 48
    assert settings.resolved_secret_key() == key
    assert Settings().resolved_secret_key() == key  # a new process reads the same file
    assert Settings(data_dir=clean / "other").resolved_secret_key() != key


def test_configured_secret_key_wins_and_writes_nothing(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTSEN_SECRET_KEY", "dari-lingkungan")
    assert Settings().resolved_secret_key() == "dari-lingkungan"
    assert not (clean / "data").exists()
