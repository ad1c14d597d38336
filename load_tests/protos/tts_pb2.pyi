from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "voice", "sample_rate", "chunk_ms", "request_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_MS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    voice: str
    sample_rate: int
    chunk_ms: int
    request_id: str
    def __init__(self, text: _Optional[str] = ..., voice: _Optional[str] = ..., sample_rate: _Optional[int] = ..., chunk_ms: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("pcm16", "index", "sample_rate", "last")
    PCM16_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    pcm16: bytes
    index: int
    sample_rate: int
    last: bool
    def __init__(self, pcm16: _Optional[bytes] = ..., index: _Optional[int] = ..., sample_rate: _Optional[int] = ..., last: _Optional[bool] = ...) -> None: ...
