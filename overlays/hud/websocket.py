"""A small RFC 6455 WebSocket implementation (stdlib only).

Why not a dependency: the HUD bridge needs text frames out, pings and a clean
close — a few dozen lines over asyncio streams. The blocking client is used by
the tests (to talk to the bridge and to Chromium's DevTools protocol).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import struct
from urllib.parse import urlsplit

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocketError(Exception):
    """Protocol violation or closed connection."""


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, *, mask: bool = False, fin: bool = True) -> bytes:
    """One frame; clients must mask, servers must not."""
    head = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 1 << 16:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        head += key
        payload = _xor(payload, key)
    return bytes(head) + payload


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return data
    k = (key * (len(data) // 4 + 1))[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


def _parse_header(b0: int, b1: int) -> tuple[bool, int, bool, int]:
    if b0 & 0x70:
        raise WebSocketError("reserved bits set (no extensions were negotiated)")
    return bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), b1 & 0x7F


class AsyncWebSocket:
    """Server side of one connection, over asyncio streams (after the HTTP upgrade)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, max_message: int = 1 << 20) -> None:
        self.reader = reader
        self.writer = writer
        self.max_message = max_message
        self.closed = False
        self._send_lock = asyncio.Lock()

    async def _frame(self) -> tuple[bool, int, bytes]:
        b0, b1 = await self.reader.readexactly(2)
        fin, op, masked, n = _parse_header(b0, b1)
        if not masked:
            raise WebSocketError("client frames must be masked")
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        if n > self.max_message:
            raise WebSocketError(f"frame of {n} bytes exceeds {self.max_message}")
        key = await self.reader.readexactly(4)
        return fin, op, _xor(await self.reader.readexactly(n), key)

    async def recv(self, *, any_frame: bool = False) -> str | bytes | None:
        """The next message (None once the peer closed); answers pings itself.

        ``any_frame``: also return (b"") after a ping or pong, so a caller timing
        idleness counts control frames as signs of life.
        """
        parts: list[bytes] = []
        kind = None
        while True:
            try:
                fin, op, data = await self._frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                self.closed = True
                return None
            if op == OP_PING:
                await self._send(OP_PONG, data[:125])
                if any_frame and not parts:
                    return b""
                continue
            if op == OP_PONG:
                if any_frame and not parts:
                    return b""
                continue
            if op == OP_CLOSE:
                if not self.closed:
                    await self._send(OP_CLOSE, data[:2])
                self.closed = True
                return None
            if op in (OP_TEXT, OP_BINARY):
                kind, parts = op, [data]
            elif op == OP_CONT and kind is not None:
                parts.append(data)
            else:
                raise WebSocketError(f"unexpected opcode {op}")
            if sum(map(len, parts)) > self.max_message:
                raise WebSocketError("message too large")
            if fin:
                msg = b"".join(parts)
                if kind != OP_TEXT:
                    return msg
                try:
                    return msg.decode("utf-8")
                except UnicodeDecodeError:
                    raise WebSocketError("text message is not UTF-8") from None

    async def _send(self, op: int, data: bytes) -> None:
        async with self._send_lock:
            self.writer.write(encode_frame(op, data))
            await self.writer.drain()

    async def ping(self, data: bytes = b"") -> None:
        if not self.closed:
            await self._send(OP_PING, data[:125])

    async def send_text(self, text: str) -> None:
        if self.closed:
            raise WebSocketError("connection closed")
        await self._send(OP_TEXT, text.encode("utf-8"))

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self._send(OP_CLOSE, struct.pack("!H", code))
            except (ConnectionError, RuntimeError):
                pass
        try:
            self.writer.close()
        except RuntimeError:
            pass


class WebSocketClient:
    """A blocking client (tests, DevTools): connect, send text, receive messages."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, origin: str | None = None, max_message: int = 64 << 20) -> None:
        u = urlsplit(url)
        if u.scheme != "ws":
            raise WebSocketError(f"only ws:// URLs are supported, not {url!r}")
        self.max_message = max_message
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout_s)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {u.hostname}:{u.port or 80}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketError("connection closed during the handshake")
            buf += chunk
        head, _, self._buf = buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise WebSocketError(f"handshake refused: {status.decode('latin-1')}")
        if accept_key(key).encode() not in head:
            raise WebSocketError("bad Sec-WebSocket-Accept")

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise WebSocketError("connection closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def send_text(self, text: str) -> None:
        self.sock.sendall(encode_frame(OP_TEXT, text.encode("utf-8"), mask=True))

    def recv(self, timeout_s: float | None = None) -> str | bytes:
        """The next message; raises TimeoutError (socket.timeout) when none arrives in time."""
        if timeout_s is not None:
            self.sock.settimeout(timeout_s)
        parts: list[bytes] = []
        kind = None
        while True:
            b0, b1 = self._read(2)
            fin, op, masked, n = _parse_header(b0, b1)
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            if n > self.max_message:
                raise WebSocketError(f"frame of {n} bytes exceeds {self.max_message}")
            key = self._read(4) if masked else None
            data = self._read(n)
            if key:
                data = _xor(data, key)
            if op == OP_PING:
                self.sock.sendall(encode_frame(OP_PONG, data, mask=True))
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                raise WebSocketError("closed by the server")
            if op in (OP_TEXT, OP_BINARY):
                kind, parts = op, [data]
            else:
                parts.append(data)
            if fin:
                msg = b"".join(parts)
                return msg.decode("utf-8") if kind == OP_TEXT else msg

    def close(self) -> None:
        try:
            self.sock.sendall(encode_frame(OP_CLOSE, struct.pack("!H", 1000), mask=True))
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> "WebSocketClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
