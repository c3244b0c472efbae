"""Apprise URLs (ntfy://, tgram://, twilio://, json://, ...): parsed by Apprise itself.

One place knows how to read an Apprise URL: which service it names, whether it is complete, which
host it sends to (when it names one: json://host, ntfy://host/topic, gotify://host/token ...;
a cloud service such as Telegram or ntfy.sh names none), and which parts of it are secrets, so
that neither an error message nor a delivery log row ever repeats them.
"""

import logging
import re
import threading
from contextlib import contextmanager
from urllib.parse import quote, unquote

MASK = "••••"

# The pieces an Apprise URL is made of: what lies between these separators.
_SEPARATORS = re.compile(r"[/:@?&=#,;\s]+")


class AppriseUrlError(ValueError):
    """The URL is not one Apprise can send to; the message says why (secrets masked)."""


class _Capture(logging.Filter):
    """On Apprise's logger: what a capturing thread logs goes to that thread's list, and no
    further (the caller tells it, scrubbed of secrets); other threads' records pass on."""

    def __init__(self):
        super().__init__()
        self.lists: dict[int, list[str]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        lines = self.lists.get(record.thread)
        if lines is None:
            return True
        if record.levelno >= logging.WARNING:
            try:
                lines.append(record.getMessage())
            except Exception:  # a plugin's bad format string must not break a send
                lines.append(str(record.msg))
        return False


_capture = _Capture()
logging.getLogger("apprise").addFilter(_capture)


@contextmanager
def capture_log():
    """`with capture_log() as lines:` the warnings and errors Apprise logs in this thread."""
    lines: list[str] = []
    _capture.lists[threading.get_ident()] = lines
    try:
        yield lines
    finally:
        _capture.lists.pop(threading.get_ident(), None)


def scheme(url: str) -> str:
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def known_schemes() -> frozenset[str]:
    from apprise.apprise import N_MGR

    return frozenset(N_MGR.schemas())


def _pieces(url: str) -> set[str]:
    found = set()
    for piece in _SEPARATORS.split(url.partition("://")[2]):
        if piece:
            found.update({piece, unquote(piece)})
    return found


def secrets_of(url: str, service=None) -> list[str]:
    """The parts of `url` Apprise itself would hide (tokens, passwords, keys): those that do not
    appear in the service's own privacy form of the URL. Longest first."""
    shown = _pieces(service.url(privacy=True)) if service is not None else set()
    hidden = {p for p in _pieces(url) if p not in shown and len(p) >= 3}
    # Without a parsed service, everything but the scheme is a possible secret.
    return sorted(hidden, key=len, reverse=True)


def scrub(text: str, url: str, service=None) -> str:
    """`text` with every secret of `url` (and the URL itself) replaced by a mask."""
    for secret in [url, *secrets_of(url, service)]:
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, MASK)
    return text


def parse(url: str, **extra):
    """The Apprise service `url` names (with `extra` URL arguments, such as ntfy's `click`),
    or AppriseUrlError saying what is wrong: an unknown scheme, a URL Apprise cannot read, or
    what its plugin found missing or invalid (a token, a phone number, a topic...)."""
    import apprise
    from apprise import plugins

    name = scheme(url)
    if not name:
        raise AppriseUrlError(
            "Not an Apprise URL: expected service://..., e.g. ntfy://ntfy.sh/topic."
        )
    if name not in known_schemes():
        raise AppriseUrlError(
            f"Unknown Apprise scheme {name}://: use one Apprise supports "
            "(ntfy://, gotify://, pover://, tgram://, signal://, matrix://, msteams://, discord://, "
            "mmost://, rocket://, slack://, twilio://, vonage://, plivo://, json://, form://, ...)."
        )
    with capture_log() as problems:
        results = plugins.url_to_dict(url, secure_logging=True)
        service = None
        if results is not None:
            results.update(extra)
            service = apprise.Apprise.instantiate(results, suppress_exceptions=True)
    if service is None:
        said = [scrub(line, url) for line in problems if not line.startswith("Could not load")]
        reason = " ".join(dict.fromkeys(said)) or "Apprise cannot read it."
        if results is None and not said:
            reason = f"Apprise cannot read this {name}:// URL."
        raise AppriseUrlError(f"Invalid {name}:// URL: {reason}")
    return service


def host_of(service) -> tuple[str, int | None] | None:
    """(host, port) the service sends to when its URL names the host (json://host/path,
    ntfy://host/topic, gotify://host/token ...); None for a cloud service whose URL names none
    (tgram://, pover://, twilio://, ntfy://topic ...)."""
    if "host" not in getattr(type(service), "template_tokens", {}):
        return None
    host = (getattr(service, "host", "") or "").strip()
    if not host:
        return None
    port = getattr(service, "port", None)
    return host, port if isinstance(port, int) else None


def host_url(service) -> str | None:
    """An http(s) URL of the service's host, for the outbound policy; None when it names none."""
    found = host_of(service)
    if found is None:
        return None
    host, port = found
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    secure = bool(getattr(service, "secure", False))
    netloc = f"{host}:{port}" if port else host
    return f"{'https' if secure else 'http'}://{netloc}/"
