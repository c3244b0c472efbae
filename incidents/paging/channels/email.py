"""E-mail through Django's mail backend, with a total deadline on SMTP.

`EMAIL_TIMEOUT` bounds each socket operation; a watchdog shuts the SMTP socket down when the
send's total deadline passes, so a mail server that answers slowly line by line cannot hold a
delivery worker past it.
"""

import contextlib
import socket
import threading

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from incidents.paging.channels.webhook import DeliveryError, deadline_seconds


def _cut(connection, fired: threading.Event) -> None:
    fired.set()
    sock = getattr(getattr(connection, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def send_email(
    *, to: str, subject: str, body: str, headers: dict | None = None, deadline: float | None = None
) -> None:
    limit = deadline if deadline is not None else deadline_seconds()
    connection = get_connection(timeout=min(settings.EMAIL_TIMEOUT or limit, limit))
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers=headers or None,
        connection=connection,
    )
    fired = threading.Event()
    watchdog = threading.Timer(limit, _cut, args=(connection, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        message.send(fail_silently=False)
    except Exception as error:
        if fired.is_set():
            raise DeliveryError(
                f"no complete answer within the {limit:g} s send deadline"
            ) from error
        raise
    finally:
        watchdog.cancel()
