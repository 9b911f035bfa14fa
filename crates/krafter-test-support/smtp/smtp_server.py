#!/usr/bin/env python3
"""A real SMTP server on loopback for Krafter's mail tests (aiosmtpd 1.4.6).

Usage: smtp_server.py DIRECTORY [--replies 451,250,550,hang] [--tls-cert FILE --tls-key FILE
       [--implicit-tls]] [--auth USER:PASSWORD]

Listens on 127.0.0.1 on a free port and prints that port on stdout, one line. Each message it
accepts is stored as DIRECTORY/<n>.eml (n = 1, 2, ...), written under a hidden temporary name
and renamed, so that a reader never sees half a message.

--replies says how the server answers each DATA in turn; once the list is used up it accepts:
  250   accept and store the message
  451   refuse it with "451 4.3.0 try again later"
  550   refuse it with "550 5.1.1 mailbox unavailable"
  hang  store the message, then never answer (for a client killed between send and record)

--tls-cert/--tls-key offer STARTTLS and require it before MAIL; with --implicit-tls the server
speaks TLS from the first byte instead (smtps). --auth requires AUTH PLAIN/LOGIN with these
credentials (allowed without TLS: the server is on loopback).

The server exits when its stdin is closed or it receives SIGTERM, so it dies with the test that
started it.
"""

import argparse
import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

REPLIES = {
    "250": "250 OK",
    "451": "451 4.3.0 try again later",
    "550": "550 5.1.1 mailbox unavailable",
}


class ScriptedHandler:
    """Answers each DATA as the reply script says, storing what it accepts."""

    def __init__(self, directory, replies):
        self.directory = directory
        self.replies = list(replies)
        self.stored = 0

    def store(self, envelope):
        # One event loop runs every session, so this counter needs no lock.
        self.stored += 1
        name = f"{self.stored}.eml"
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "wb") as out:
            out.write(envelope.original_content)
            out.flush()
            os.fsync(out.fileno())
        os.rename(temporary, os.path.join(self.directory, name))

    async def handle_DATA(self, server, session, envelope):
        reply = self.replies.pop(0) if self.replies else "250"
        if reply == "hang":
            self.store(envelope)
            await asyncio.Event().wait()
        if reply == "250":
            self.store(envelope)
        return REPLIES[reply]


def reply_script(raw):
    replies = [token.strip() for token in raw.split(",") if token.strip()]
    for reply in replies:
        if reply not in REPLIES and reply != "hang":
            raise argparse.ArgumentTypeError(
                f"unknown reply {reply!r} (expected 250, 451, 550 or hang)"
            )
    return replies


class LoopbackController(Controller):
    """A Controller that may listen on port 0.

    Controller connects to its own port once to check that the server answers; with port 0 it
    would connect to port 0, so learn the port the system chose first.
    """

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def authenticator_for(credentials):
    user, _, password = credentials.partition(":")
    expected = LoginPassword(user.encode(), password.encode())

    def authenticate(server, session, envelope, mechanism, auth_data):
        # handled=False: aiosmtpd then answers a failure with 535 itself; with the default
        # (True) it would leave the client waiting for an answer nobody sends.
        return AuthResult(success=auth_data == expected, handled=False)

    return authenticate


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--replies", type=reply_script, default=[])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", metavar="USER:PASSWORD")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.implicit_tls and not args.tls_cert:
        parser.error("--implicit-tls needs --tls-cert and --tls-key")

    smtp_options = {}
    ssl_context = None
    if args.tls_cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.implicit_tls:
            ssl_context = tls_context
        else:
            smtp_options.update(tls_context=tls_context, require_starttls=True)
    if args.auth:
        smtp_options.update(
            authenticator=authenticator_for(args.auth),
            auth_required=True,
            auth_require_tls=False,
        )

    os.makedirs(args.directory, exist_ok=True)
    controller = LoopbackController(
        ScriptedHandler(args.directory, args.replies),
        hostname="127.0.0.1",
        port=0,
        ssl_context=ssl_context,
        **smtp_options,
    )
    controller.start()
    print(controller.port, flush=True)

    # os._exit: a hanging DATA handler must not keep the process alive, and every stored
    # message is already complete (renamed into place).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while sys.stdin.buffer.read(4096):
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
