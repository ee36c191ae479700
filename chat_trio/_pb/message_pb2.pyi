from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("avatar", "fromUsername", "to", "content", "contentType", "type", "messageType", "url", "fileSuffix", "file", "clientId", "id", "createAt", "code", "errorKey")
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
    def __init__(self, avatar: _Optional[str] = ..., fromUsername: _Optional[str] = ..., to: _Optional[str] = ..., content: _Optional[str] = ..., contentType: _Optional[int] = ..., type: _Optional[str] = ..., messageType: _Optional[int] = ..., url: _Optional[str] = ..., fileSuffix: _Optional[str] = ..., file: _Optional[bytes] = ..., clientId: _Optional[str] = ..., id: _Optional[int] = ..., createAt: _Optional[int] = ..., code: _Optional[int] = ..., errorKey: _Optional[str] = ..., **kwargs) -> None: ...
