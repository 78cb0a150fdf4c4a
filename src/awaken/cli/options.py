"""Options shared by the CLI's commands, and the settings and client they make."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from awaken.client import Client
from awaken.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

ADMIN_URLS = "awaken.admin_urls"  # ctx.meta key: the admin URLs in use (for error messages)


def settings(**overrides: Any) -> Settings:
    """The settings of this command: its flags (None: not given) over AWAKEN_* over the file."""
    ctx = click.get_current_context()
    root = ctx.find_root()
    return load_settings(root.params.get("config"), **overrides)


def json_option(f: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="print JSON (for scripts) instead of a table"
    )(f)


def admin_options(f: F) -> F:
    f = click.option(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="bearer token of the admin API [env AWAKEN_ADMIN_TOKEN]",
    )(f)
    return click.option(
        "--admin-url",
        default=None,
        metavar="URL",
        help="the admin API [env AWAKEN_ADMIN_URL; default http://127.0.0.1:9070]",
    )(f)


def ingress_option(f: F) -> F:
    return click.option(
        "--url",
        default=None,
        metavar="URL",
        help="the ingress [env AWAKEN_INGRESS_URL; default http://127.0.0.1:8080]",
    )(f)


def client(admin_url: str | None = None, admin_token: str | None = None, url: str | None = None) -> Client:
    """A Client of the server these flags and settings name."""
    chosen = settings(admin_url=admin_url, admin_token=admin_token, ingress_url=url)
    admin = chosen.cli_admin_url()
    click.get_current_context().meta.setdefault(ADMIN_URLS, set()).add(admin.rstrip("/"))
    return Client(
        chosen.cli_ingress_url(), admin_url=admin, timeout=30.0, admin_token=chosen.admin_token_value()
    )
