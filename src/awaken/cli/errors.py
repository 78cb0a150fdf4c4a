"""The CLI's one mapping from failures to messages and exit codes: no expected failure shows a
traceback.

| exit code | meaning                                                                          |
| --------- | -------------------------------------------------------------------------------- |
| 0         | done                                                                             |
| 1         | refused: the server answered with an error (unknown id, conflict, ...), the     |
|           | database is in use, a confirmation was declined; some of a bulk operation failed |
| 2         | bad usage or input: options, arguments, JSON, URLs, settings                     |
| 3         | `awaken serve` could not start: the app, a port, the database                    |
| 4         | no server there: connection refused, timed out, not an awaken API                |
"""

from __future__ import annotations

from typing import Any

import click
import httpx

from awaken.client import HttpError
from awaken.errors import StorageError
from awaken.settings import SettingsError

REFUSED = 1
USAGE = 2
CANNOT_START = 3
UNREACHABLE = 4

EXIT_CODES_HELP = """\b
Exit codes: 0 done; 1 refused (the server answered with an error, the
database is in use, a bulk operation partly failed); 2 bad usage or input;
3 serve could not start; 4 no server reachable."""


class CliFailure(click.ClickException):
    """A failure the CLI explains in one line and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click reads it per instance


def _api_name(url: str, admin_urls: set[str]) -> str:
    base = _base(url)
    return "admin API" if any(base == _base(a) for a in admin_urls) else "ingress"


def describe(exc: BaseException, admin_urls: set[str] | None = None) -> CliFailure | None:
    """The CliFailure for an expected exception; None for anything else (a bug: let it show)."""
    admin_urls = admin_urls or set()
    match exc:
        case HttpError():
            return _http_error(exc, admin_urls)
        case httpx.InvalidURL() | httpx.UnsupportedProtocol():
            return CliFailure(f"bad URL: {exc} (URLs look like http://127.0.0.1:9070)", USAGE)
        case httpx.TimeoutException():
            url = _request_url(exc)
            return CliFailure(
                f"no answer from {url} in time: is awaken serve running there, and healthy?", UNREACHABLE
            )
        case httpx.TransportError():
            url = _request_url(exc)
            api = _api_name(url, admin_urls)
            hint = "--admin-url or AWAKEN_ADMIN_URL" if api == "admin API" else "--url or AWAKEN_INGRESS_URL"
            reason = _reason(exc)
            base = _base(url)
            return CliFailure(
                f"cannot reach the {api} ({reason}): is awaken serve running at {base}? "
                f"({hint} to point elsewhere)",
                UNREACHABLE,
            )
        case SettingsError():
            return CliFailure(str(exc), USAGE)
        case StorageError():
            return CliFailure(str(exc), REFUSED)
    return None


def _request_url(exc: httpx.RequestError) -> str:
    try:
        return str(exc.request.url)
    except RuntimeError:  # the error was raised before a request existed
        return "the server"


def _base(url: str) -> str:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    return f"{parsed.scheme}://{parsed.netloc.decode()}" if parsed.scheme else url


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text


def _http_error(exc: HttpError, admin_urls: set[str]) -> CliFailure:
    message = exc.message
    if exc.status == 401:
        return CliFailure(
            f"401 unauthorized: {message or 'the admin API wants a token'} "
            "(set --admin-token or AWAKEN_ADMIN_TOKEN)",
            REFUSED,
        )
    if 200 <= exc.status < 300 or not isinstance(exc.body, dict):
        # not Restate's error JSON: some other server listens there
        api = _api_name(exc.url, admin_urls)
        return CliFailure(
            f"{_base(exc.url)} answered {exc.status} with something that is not awaken's {api} "
            f"({message[:120]!r}): is that the right URL?",
            UNREACHABLE,
        )
    extra = ""
    errors: Any = exc.body.get("errors")
    if isinstance(errors, list) and errors:
        extra = "\n" + "\n".join(f"  - {e}" for e in errors[:20])
    return CliFailure(f"{exc.status}: {message}{extra}", REFUSED)
