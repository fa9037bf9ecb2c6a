#!/usr/bin/env python3
"""A real SMTP server on loopback for the server's tests (aiosmtpd).

    python3 tests/smtp_sink.py --dir DIR [--port PORT]

Listens on 127.0.0.1:PORT (0, the default, picks a free port) and prints
`smtp sink on 127.0.0.1:PORT` once it accepts connections. Each message
it accepts is written to DIR before the 250 answer, as N.json (written to
a temporary name, then renamed): the envelope (`mail_from`, `rcpt_tos`),
the headers the tests look at, and the decoded text and HTML parts.
Needs aiosmtpd (scripts/test-server.sh installs it).
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import socket
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.numbers = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html") and kind not in parts:
                parts[kind] = part.get_content()
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "text": parts.get("text/plain", ""),
            "html": parts.get("text/html", ""),
        }
        number = next(self.numbers)
        path = os.path.join(self.directory, f"{os.getpid()}-{number}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 OK"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sink = Sink(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", ident="edgeauth test sink"), sock=sock
    )
    port = sock.getsockname()[1]
    print(f"smtp sink on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
