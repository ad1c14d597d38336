from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TranscribeRequest(_message.Message):
    __slots__ = ("wav", "language", "request_id")
    WAV_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    wav: bytes
    language: str
    request_id: str
    def __init__(self, wav: _Optional[bytes] = ..., language: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ("transcript", "duration_s", "confidence", "request_id")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    duration_s: float
    confidence: float
    request_id: str
    def __init__(self, transcript: _Optional[str] = ..., duration_s: _Optional[float] = ..., confidence: _Optional[float] = ..., request_id: _Optional[str] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("pcm16", "sample_rate")
    PCM16_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    pcm16: bytes
    sample_rate: int
    def __init__(self, pcm16: _Optional[bytes] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class RecognitionResult(_message.Message):
    __slots__ = ("transcript", "is_final", "chunk_index", "audio_seconds")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    AUDIO_SECONDS_FIELD_NUMBER: _ClassVar[int]
    transcript: str
    is_final: bool
    chunk_index: int
    audio_seconds: float
    def __init__(self, transcript: _Optional[str] = ..., is_final: _Optional[bool] = ..., chunk_index: _Optional[int] = ..., audio_seconds: _Optional[float] = ...) -> None: ...
