"""awaken's settings: one model for `awaken serve`, `awaken migrate`, the other CLI commands and
`awaken.app(...)`.

Where a value comes from, first match wins:

1. a command-line flag (`--db`, `--admin-port`, ...), or a keyword of `awaken.app(...)`;
2. an environment variable: the field's name in capitals with the prefix `AWAKEN_`
   (`AWAKEN_DB`, `AWAKEN_ADMIN_TOKEN`, ...);
3. a TOML file: `./awaken.toml` if it exists, or the file `--config` / `AWAKEN_CONFIG` names,
   with the fields as top-level keys (`db = "sqlite:///data/awaken.db"`);
4. the default below.

A bad value anywhere is a `SettingsError` naming the setting and where it can be set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from awaken.errors import AwakenError

CONFIG_FILE = "awaken.toml"
CONFIG_ENV = "AWAKEN_CONFIG"
MiB = 1024 * 1024

DATABASE_SCHEMES = ("sqlite://", "postgresql://", "postgres://")

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


class SettingsError(AwakenError):
    """A setting has a bad value, or the settings file cannot be read."""


class Settings(BaseSettings):
    """Every setting of awaken, with its default. See the module docstring for the sources."""

    model_config = SettingsConfigDict(
        env_prefix="AWAKEN_",
        extra="forbid",  # a misspelt key in awaken.toml is an error, not silently ignored
        validate_default=True,
    )

    # -- storage
    db: str = Field("sqlite:///awaken.db", description="database URL: sqlite:///PATH or postgresql://...")
    migrate: bool = Field(True, description="apply pending schema migrations at start-up")
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full", description="SQLite durability: full survives power loss, normal only process crashes"
    )
    sqlite_busy_timeout: float = Field(
        2.0,
        ge=0,
        le=600,
        description="seconds a write waits for a SQLite lock another process holds, then 503 until released",
    )
    lease: float = Field(
        3.0,
        ge=0.1,
        le=3600,
        description="seconds a node's claim on an invocation lasts unrenewed (then other nodes take it over)",
    )
    # -- ingress
    host: str = Field("127.0.0.1", description="interface of the ingress")
    port: int = Field(8080, ge=0, le=65535, description="ingress port (0: any free port)")
    max_body: int = Field(32 * MiB, ge=1, description="largest request body, in bytes")
    max_inflight_bodies: int = Field(
        128 * MiB,
        ge=1,
        description="bytes of request bodies the ingress holds at once, all requests together (then 503)",
    )
    # -- admin API
    admin_host: str = Field(
        "127.0.0.1", description="interface of the admin API (not --host: exposing one is not the other)"
    )
    admin_port: int = Field(9070, ge=0, le=65535, description="admin API port (0: no admin API)")
    admin_token: SecretStr | None = Field(
        None, description="bearer token every admin request must carry (the CLI sends it)"
    )
    # -- engine
    suspend_after: float = Field(1.0, ge=0, description="seconds a waiting invocation stays in memory")
    always_replay: bool = Field(False, description="suspend at every await (a determinism check)")
    # -- deployments (handlers served elsewhere)
    request_identity_private_key_pem_file: Path | None = Field(
        None,
        description="ed25519 PEM key that signs requests to deployments (as Restate's request identity)",
    )
    inactivity_timeout: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="seconds a deployment's open stream may wait in silence before it is asked to suspend",
    )
    # -- process
    log_level: LogLevel = Field("info", description="level of awaken's and uvicorn's logs")
    log_format: Literal["text", "json"] = Field("text", description="log lines as text or one JSON object")
    shutdown_grace: float = Field(
        5.0, gt=0, le=3600, description="seconds `awaken serve` takes at most to stop after SIGINT/SIGTERM"
    )
    # -- the CLI's view of a running server
    admin_url: str | None = Field(None, description="admin API the CLI talks to [default: from admin_port]")
    ingress_url: str | None = Field(None, description="ingress the CLI talks to [default: from port]")

    @field_validator("db")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(DATABASE_SCHEMES):
            raise ValueError("expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
        return value

    @field_validator("admin_url", "ingress_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected http://HOST:PORT or https://HOST:PORT")
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
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    # -- derived values --------------------------------------------------------------------------
    def admin_token_value(self) -> str | None:
        return self.admin_token.get_secret_value() if self.admin_token is not None else None

    def cli_admin_url(self) -> str:
        """Where the CLI finds the admin API: `admin_url`, else this machine's `admin_port`."""
        return self.admin_url or f"http://{_reachable(self.admin_host)}:{self.admin_port or 9070}"

    def cli_ingress_url(self) -> str:
        return self.ingress_url or f"http://{_reachable(self.host)}:{self.port or 8080}"


def _reachable(host: str) -> str:
    """The address to connect to for a listener on `host` (a wildcard means this machine)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def config_file(explicit: str | Path | None = None) -> Path | None:
    """The TOML file to read: `explicit`, else $AWAKEN_CONFIG, else ./awaken.toml if it exists."""
    named = explicit or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"settings file {path} does not exist")
        return path
    default = Path(CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """The settings, with `overrides` (flags, keywords; None means "not given") first."""
    path = config_file(config)
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = set(given) - set(Settings.model_fields)
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    cls: type[Settings] = Settings
    if path is not None:
        # The file is a class-level option of pydantic-settings: a subclass carries it.
        cls = type(
            "FileSettings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}}
        )
    try:
        return cls(**given)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except (OSError, ValueError) as exc:  # an unreadable file, a TOML syntax error
        raise SettingsError(f"cannot read the settings file {path}: {exc}") from None


def _describe(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "?"
        where = f"--{name.replace('_', '-')}, AWAKEN_{name.upper()}"
        if path is not None:
            where += f" or {path}"
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown setting {name!r} in {path or 'the settings'}")
        else:
            got = "a secret" if name == "admin_token" else repr(error.get("input"))
            lines.append(f"setting {name} ({where}): {error['msg']} (got {got})")
    return "; ".join(lines)


__all__ = ["Settings", "SettingsError", "config_file", "load_settings"]
