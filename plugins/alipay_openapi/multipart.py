"""multipart/form-data bodies (RFC 7578) for the methods that upload a file: text fields and
files, written whole as bytes so that the request can be logged, recorded and replayed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Protocol

CHARSET = "utf-8"


class FilePart(Protocol):
    @property
    def file_name(self) -> str: ...
    @property
    def content(self) -> bytes: ...
    @property
    def content_type(self) -> str: ...


def _quoted(value: str) -> str:
    """A name or file name inside a Content-Disposition quoted string (as browsers escape)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def multipart_body(
    fields: Mapping[str, str], files: Mapping[str, FilePart], *, boundary: str | None = None
) -> tuple[bytes, str]:
    """(body, Content-Type with its boundary) of `fields` (UTF-8 text) and `files`."""
    boundary = boundary or f"paygate{uuid.uuid4().hex}"
    marker = f"--{boundary}\r\n".encode("ascii")
    chunks: list[bytes] = []
    for name, value in fields.items():
        head = (
            f'Content-Disposition: form-data; name="{_quoted(name)}"\r\n'
            f"Content-Type: text/plain; charset={CHARSET}\r\n\r\n"
        )
        chunks += [marker, head.encode(CHARSET), value.encode(CHARSET), b"\r\n"]
    for name, part in files.items():
        head = (
            f'Content-Disposition: form-data; name="{_quoted(name)}"; '
            f'filename="{_quoted(part.file_name)}"\r\n'
            f"Content-Type: {part.content_type}\r\n\r\n"
        )
        chunks += [marker, head.encode(CHARSET), part.content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
