"""Generated protobuf modules: never edit by hand.

Made from proto/message.proto by::

    python -m grpc_tools.protoc -Iproto --python_out=chat_trio/_pb \
        --pyi_out=chat_trio/_pb proto/message.proto

tests/test_generated.py fails when the files here differ from what that command
makes, so the schema has one source. Only chat_trio.codec imports this package.
"""
