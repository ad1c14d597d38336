"""The WebSocket client's own frame reader and writer (clients/ws_frames.py) against websocket-client's
frames, over a real socket pair: byte-identical frames out, every frame shape read back in order."""

from __future__ import annotations

import socket
import threading

import pytest
from websocket import ABNF

from load_tests.clients import ws_frames
from load_tests.clients.ws_frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, FrameReader


class _Ws:
    """What FrameReader uses of websocket-client's WebSocket: its socket, lock, pong and close."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.lock = sock, threading.Lock()
        self.pongs: list[bytes] = []
        self.closes = 0

    def pong(self, payload: bytes) -> None:
        self.pongs.append(payload)

    def send_close(self) -> None:
        self.closes += 1


def _server_frame(payload: bytes, opcode: int = TEXT, fin: bool = True) -> bytes:
    """A frame as a server sends it (unmasked), built by websocket-client itself."""
    frame = ABNF(int(fin), 0, 0, 0, opcode, 0, payload)
    return frame.format()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_a_client_frame_is_byte_for_byte_what_websocket_client_sends(size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    key = b"\x01\x82\x33\xf4"
    theirs = ABNF.create_frame(payload, ABNF.OPCODE_TEXT)
    theirs.get_mask_key = lambda _n: key
    assert ws_frames.client_frame(payload, key) == theirs.format()


def test_every_frame_shape_is_read_back_whole_and_in_order() -> None:
    """Many frames in one write, a message in fragments with a ping between them, a frame cut across
    writes, lengths on each side of the 7-, 16- and 64-bit forms, and a masked frame."""
    ours, peer = socket.socketpair()
    ws = _Ws(ours)
    big = b"x" * 70_000
    key = b"\x0a\x0b\x0c\x0d"
    masked_frame = bytes((0x80 | BINARY, 0x80 | 3)) + key + ws_frames.masked(key, b"abc")
    stream = b"".join(
        [
            _server_frame(b'{"id":1}'),
            _server_frame(b"part1-", TEXT, fin=False),
            _server_frame(b"ping!", PING),
            _server_frame(b"part2-", CONT, fin=False),
            _server_frame(b"end", CONT),
            _server_frame(b"y" * 126),
            _server_frame(big, BINARY),
            masked_frame,
            _server_frame(b"", PONG),
            _server_frame(b"\x03\xe8bye", CLOSE),
        ]
    )
    cut = len(_server_frame(b'{"id":1}')) + 3
    writer = threading.Thread(target=lambda: (peer.sendall(stream[:cut]), peer.sendall(stream[cut:])))
    writer.start()
    reader = FrameReader(ws)
    got = [reader.next() for _ in range(8)]
    writer.join(timeout=5)
    assert got == [
        (TEXT, b'{"id":1}'),
        (PING, b"ping!"),
        (TEXT, b"part1-part2-end"),
        (TEXT, b"y" * 126),
        (BINARY, big),
        (BINARY, b"abc"),
        (PONG, b""),
        (CLOSE, b"\x03\xe8bye"),
    ]
    assert ws.pongs == [b"ping!"] and ws.closes == 1
    peer.close()
    with pytest.raises(ConnectionError):
        reader.next()
    ours.close()


@pytest.mark.parametrize(
    "frame",
    [
        _server_frame(b"x", CONT),  # a continuation with no first frame
        bytes((0x80 | 0x3, 0)),  # an unknown opcode
        bytes((0xC0 | TEXT, 0)),  # a reserved bit
        _server_frame(b"p" * 126, PING),  # a ping too long for a control frame
    ],
)
def test_a_frame_that_breaks_the_protocol_raises(frame: bytes) -> None:
    ours, peer = socket.socketpair()
    peer.sendall(frame)
    with pytest.raises(ValueError):
        FrameReader(_Ws(ours)).next()
    ours.close()
    peer.close()


def test_a_send_on_a_closed_connection_fails_as_websocket_client_names_it() -> None:
    from websocket import WebSocketConnectionClosedException

    ws = _Ws(socket.socket())
    ws.sock.close()
    ws.sock = None  # type: ignore[assignment]
    with pytest.raises(WebSocketConnectionClosedException):
        ws_frames.send_text(ws, b"{}")
