"""The maximum size of a request body (`CARTPORTAL_MAX_UPLOAD_BYTES`), refused with 413 in the one error shape
before the body is read: by its declared length in a middleware, and, for a body whose length is not declared, by
an upload handler that stops the upload once the limit is passed. Files under the limit stream to disk
(`FILE_UPLOAD_MAX_MEMORY_SIZE`), never whole into memory."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from cartportal.errors import AppError


class UploadTooLarge(AppError):
    default_code = "too_large"


def too_large() -> UploadTooLarge:
    limit = settings.CARTPORTAL_MAX_UPLOAD_BYTES
    return UploadTooLarge(
        f"The request body is larger than the limit of {limit:,} bytes ({limit / 2**20:.0f} MB); "
        "split the file or ask the operator to raise CARTPORTAL_MAX_UPLOAD_BYTES."
    )


def declared_length(request) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


class UploadLimitMiddleware:
    """413 for a body declared larger than the limit, answered without reading it. A multipart body of unknown
    length is parsed here, through `LimitedUploadHandler`, so that passing the limit answers 413 as well."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from cartportal.middleware import app_error_response

        limit = settings.CARTPORTAL_MAX_UPLOAD_BYTES
        if limit:
            length = declared_length(request)
            if length is not None and length > limit:
                return app_error_response(request, too_large())
            if length is None and request.content_type == "multipart/form-data" and request.method == "POST":
                try:
                    request.FILES  # noqa: B018 - parse now, through the limited handler
                except UploadTooLarge as error:
                    return app_error_response(request, error)
        return self.get_response(request)


class LimitedUploadHandler(FileUploadHandler):
    """First of `FILE_UPLOAD_HANDLERS`: counts the bytes of every file of a request as they arrive and raises
    `UploadTooLarge` once the total passes the limit, before the next handler stores them."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        limit = settings.CARTPORTAL_MAX_UPLOAD_BYTES
        if limit and self.received > limit:
            raise too_large()
        return raw_data

    def file_complete(self, file_size):
        return None
