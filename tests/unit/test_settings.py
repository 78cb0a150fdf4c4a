"""The one settings model: flags (and awaken.app keywords) over AWAKEN_* over awaken.toml over the
defaults; a bad value names the setting and where it can be set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import awaken
from awaken.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWAKEN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no awaken.toml unless a test writes one


def test_defaults() -> None:
    s = load_settings()
    assert (s.db, s.host, s.port, s.admin_host, s.admin_port) == (
        "sqlite:///awaken.db", "127.0.0.1", 8080, "127.0.0.1", 9070,
    )  # fmt: skip
    assert s.admin_token is None and s.migrate and s.shutdown_grace == 5.0
    assert (s.log_level, s.log_format, s.sqlite_synchronous) == ("info", "text", "full")
    assert s.cli_admin_url() == "http://127.0.0.1:9070" and s.cli_ingress_url() == "http://127.0.0.1:8080"


def test_flags_over_environment_over_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "awaken.toml").write_text(
        'db = "sqlite:///from-file.db"\nport = 1111\nadmin_port = 2222\nlog_format = "json"\n',
        encoding="utf-8",
    )
    s = load_settings()
    assert (s.db, s.port, s.admin_port, s.log_format) == ("sqlite:///from-file.db", 1111, 2222, "json")
    assert s.cli_admin_url() == "http://127.0.0.1:2222"  # the CLI finds the file's admin port
    monkeypatch.setenv("AWAKEN_PORT", "3333")
    monkeypatch.setenv("AWAKEN_DB", "sqlite:///from-env.db")
    s = load_settings()
    assert (s.db, s.port, s.admin_port) == ("sqlite:///from-env.db", 3333, 2222)
    s = load_settings(port=4444, db=None)  # None: the flag was not given
    assert (s.db, s.port) == ("sqlite:///from-env.db", 4444)


def test_another_file_by_flag_or_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("suspend_after = 0.25\nalways_replay = true\n", encoding="utf-8")
    assert load_settings(other).suspend_after == 0.25
    monkeypatch.setenv("AWAKEN_CONFIG", str(other))
    assert load_settings().always_replay is True
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"AWAKEN_PORT": "http"}, "setting port (--port, AWAKEN_PORT)"),
        ({"AWAKEN_PORT": "70000"}, "less than or equal to 65535"),
        ({"AWAKEN_DB": "mysql://x"}, "expected sqlite:///PATH or postgresql://"),
        ({"AWAKEN_ADMIN_URL": "localhost:9070"}, "expected http://HOST:PORT"),
        ({"AWAKEN_LOG_LEVEL": "loud"}, "setting log_level"),
        ({"AWAKEN_SHUTDOWN_GRACE": "0"}, "greater than 0"),
        ({"AWAKEN_SQLITE_SYNCHRONOUS": "off"}, "setting sqlite_synchronous"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert says in str(err.value)


def test_a_file_with_a_typo_or_bad_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "awaken.toml").write_text("admin_prot = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting 'admin_prot'"):
        load_settings()
    (tmp_path / "awaken.toml").write_text("port = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings()


def test_the_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWAKEN_ADMIN_TOKEN", "hunter2")
    s = load_settings()
    assert s.admin_token_value() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_wildcard_hosts_are_reached_on_loopback() -> None:
    assert load_settings(host="0.0.0.0", port=8081).cli_ingress_url() == "http://127.0.0.1:8081"
    assert load_settings(admin_host="::", admin_port=9071).cli_admin_url() == "http://[::1]:9071"
    assert load_settings(admin_url="http://box:1").cli_admin_url() == "http://box:1"


def test_unknown_overrides_are_a_programming_error() -> None:
    with pytest.raises(TypeError, match="unknown settings: dbb"):
        load_settings(dbb="x")


def test_the_app_reads_the_same_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """awaken.app keywords beat the environment, which beats the file (what awaken serve reads)."""
    (tmp_path / "awaken.toml").write_text('db = "sqlite:///file.db"\nmax_body = 10\n', encoding="utf-8")
    monkeypatch.setenv("AWAKEN_MAX_BODY", "20")
    app = awaken.app([], db="sqlite:///kw.db", migrate=False)
    s = app.settings()
    assert isinstance(s, Settings)
    assert (s.db, s.max_body, s.migrate) == ("sqlite:///kw.db", 20, False)
    assert awaken.app([]).settings().db == "sqlite:///file.db"
