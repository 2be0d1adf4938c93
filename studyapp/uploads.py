"""An upload handler that keeps every file of one request in one temporary file.

Django's default handlers hold a request of up to FILE_UPLOAD_MAX_MEMORY_SIZE in memory and
otherwise give each uploaded file its own temporary file, open until the request ends: a
20,000-image upload would need 20,000 open files. Here memory stays at one chunk and the
request holds one open file, whatever the number of uploads.
"""

import io
import os
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class _Window(io.RawIOBase):
    """Bytes ``start`` to ``start + size`` of a shared file, as a seekable read-only file."""

    def __init__(self, spool, start: int, size: int):
        super().__init__()
        self.spool, self.start, self.size, self.position = spool, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        self.spool.seek(self.start + self.position)
        data = self.spool.read(count)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self.position, os.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


class SpooledUploadHandler(FileUploadHandler):
    """Every uploaded file of the request appended to one anonymous temporary file."""

    def __init__(self, request=None):
        super().__init__(request)
        self.spool = None
        self.start = 0

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.spool is None:
            # Anonymous (already unlinked); closed when the request and its files are freed.
            self.spool = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
        self.start = self.spool.seek(0, os.SEEK_END)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.spool.seek(0, os.SEEK_END)
        self.spool.write(raw_data)

    def file_complete(self, file_size: int) -> UploadedFile:
        window = _Window(self.spool, self.start, file_size)
        return UploadedFile(
            window,
            self.file_name,
            self.content_type,
            file_size,
            self.charset,
            self.content_type_extra,
        )
