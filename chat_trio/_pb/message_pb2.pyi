from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("avatar", "fromUsername", "to", "content", "contentType", "type", "messageType", "url", "fileSuffix", "file", "clientId", "id", "createAt", "code", "errorKey", "unread", "muted", "friendEvent", "peer", "actor", "reason", "lastSeen")
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    FROMUSERNAME_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENTTYPE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGETYPE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    FILESUFFIX_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    CLIENTID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATEAT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ERRORKEY_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    MUTED_FIELD_NUMBER: _ClassVar[int]
    FRIENDEVENT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    LASTSEEN_FIELD_NUMBER: _ClassVar[int]
    avatar: str
    fromUsername: str
    to: str
    content: str
    contentType: int
    type: str
    messageType: int
    url: str
    fileSuffix: str
    file: bytes
    clientId: str
    id: int
    createAt: int
    code: int
    errorKey: str
    unread: int
    muted: bool
    friendEvent: str
    peer: str
    actor: str
    reason: str
    lastSeen: int
    def __init__(self, avatar: _Optional[str] = ..., fromUsername: _Optional[str] = ..., to: _Optional[str] = ..., content: _Optional[str] = ..., contentType: _Optional[int] = ..., type: _Optional[str] = ..., messageType: _Optional[int] = ..., url: _Optional[str] = ..., fileSuffix: _Optional[str] = ..., file: _Optional[bytes] = ..., clientId: _Optional[str] = ..., id: _Optional[int] = ..., createAt: _Optional[int] = ..., code: _Optional[int] = ..., errorKey: _Optional[str] = ..., unread: _Optional[int] = ..., muted: _Optional[bool] = ..., friendEvent: _Optional[str] = ..., peer: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., lastSeen: _Optional[int] = ..., **kwargs) -> None: ...
