"""WebSocket frames on a websocket-client connection's socket, read and written without its per-frame layers.

websocket-client does the handshake, pings, closes and TLS; its frame path costs what it costs because
of Python layers, not bytes: per received message ``recv_data`` -> ``recv_data_frame`` -> ``recv_frame``
-> ``frame_buffer.recv_frame`` -> ``recv_header`` -> ``recv_strict`` -> ``_recv`` (about 15 µs of a
20 µs reply here), and per sent one ``ABNF`` object, ``format`` and ``mask`` (about 7 µs). The reader
below takes every whole frame out of one buffer filled by one ``recv`` of up to 64 KiB (a stream's
messages that arrive together cost one system call, not one each); the writer builds a masked text
frame in one expression. Semantics are websocket-client's (RFC 6455): fragments are joined, a ping
under 126 bytes is answered with a pong, a close is answered with a close, and a frame that breaks
the protocol raises, which the client treats as a broken connection.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from typing import Any

from websocket import WebSocketConnectionClosedException

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_DATA = (CONT, TEXT, BINARY)
_CONTROL = (CLOSE, PING, PONG)
READ_SIZE = 65536


def masked(key: bytes, data: bytes) -> bytes:
    """``data`` XOR the 4-byte ``key`` repeated (RFC 6455 masking; the same call unmasks)."""
    n = len(data)
    mask = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")


def client_frame(payload: bytes, key: bytes, opcode: int = TEXT) -> bytes:
    """One final, masked frame as a client must send it: what ``ABNF.create_frame(...).format()`` gives."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + key + masked(key, payload)


def send_text(ws: Any, payload: bytes) -> None:
    """Send ``payload`` (UTF-8 JSON or text) as one text frame on websocket-client's ``ws``, under its
    send lock (the receiver's pongs and closes go through websocket-client with the same lock)."""
    frame = client_frame(payload, os.urandom(4))  # websocket-client's own mask source
    with ws.lock:
        sock = ws.sock
        if sock is None:  # the failures websocket-client names so, named the same
            raise WebSocketConnectionClosedException("socket is already closed.")
        try:
            sock.sendall(frame)
        except ssl.SSLEOFError:
            raise WebSocketConnectionClosedException("socket is already closed.") from None


class FrameReader:
    """Whole messages and control frames from ``ws``'s socket, in order; ``next`` blocks cooperatively."""

    __slots__ = ("_buffer", "_fragments", "_opcode", "ws")

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self._buffer = bytearray()
        self._fragments: list[bytes] | None = None  # a fragmented message being joined
        self._opcode = TEXT

    def next(self) -> tuple[int, bytes]:
        """The next ``(opcode, payload)``: a whole text/binary message, or a close, ping or pong frame.
        Raises ``ConnectionError`` when the peer closed the socket, ``ValueError`` on a protocol error."""
        while True:
            frame = self._frame()
            if frame is None:
                data = self.ws.sock.recv(READ_SIZE)
                if not data:
                    raise ConnectionError("socket closed by the peer")
                self._buffer += data
                continue
            opcode, fin, payload = frame
            if opcode in _CONTROL:
                self._control(opcode, payload)
                return opcode, payload
            message = self._joined(opcode, fin, payload)
            if message is not None:
                return message

    def _frame(self) -> tuple[int, bool, bytes] | None:
        """The first whole frame in the buffer (removed from it), or None until more bytes arrive."""
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ValueError("websocket frame with reserved bits set")
        n, start = second & 0x7F, 2
        if n == 126:
            if len(buffer) < 4:
                return None
            n, start = int.from_bytes(buffer[2:4], "big"), 4
        elif n == 127:
            if len(buffer) < 10:
                return None
            n, start = int.from_bytes(buffer[2:10], "big"), 10
        key_at, start = start, start + (4 if second & 0x80 else 0)  # servers do not mask; unmask if one does
        if len(buffer) < start + n:
            return None
        payload = bytes(buffer[start : start + n])
        if second & 0x80:
            payload = masked(bytes(buffer[key_at:start]), payload)
        del buffer[: start + n]  # bytearray drops a prefix without copying what follows
        return first & 0x0F, bool(first & 0x80), payload

    def _joined(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes] | None:
        """A data frame into its message: the message once its final frame is in, else None."""
        if opcode not in _DATA:
            raise ValueError(f"websocket frame with unknown opcode {opcode}")
        if opcode == CONT:
            if self._fragments is None:
                raise ValueError("websocket continuation frame without a first frame")
            self._fragments.append(payload)
            if not fin:
                return None
            whole, self._fragments = b"".join(self._fragments), None
            return self._opcode, whole
        if self._fragments is not None:
            raise ValueError("websocket data frame inside a fragmented message")
        if fin:
            return opcode, payload
        self._fragments, self._opcode = [payload], opcode
        return None

    def _control(self, opcode: int, payload: bytes) -> None:
        """What websocket-client does on a control frame: pong a ping, answer a close."""
        if opcode == PING:
            if len(payload) >= 126:
                raise ValueError("websocket ping over 125 bytes")
            self.ws.pong(payload)
        elif opcode == CLOSE:
            with contextlib.suppress(Exception):  # the peer may be gone already; its close is what matters
                self.ws.send_close()
