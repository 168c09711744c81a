"""Serving private files (photos, generated images, export zips) to a request already allowed
to see them.

Local storage: the bytes stream through Django with an explicit Content-Type (never guessed
from the name), ``X-Content-Type-Options: nosniff`` and ``Cache-Control: private``. S3: a 302 to
a signed URL that expires after settings.SIGNED_URL_SECONDS, so the bytes never pass through
the web process and the bucket stays private.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

CACHE_CONTROL = f"private, max-age={60 * 5}"

_CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "zip": "application/zip",
}


def content_type_for_key(name: str) -> str:
    """Content-Type of a stored object from its generated key's extension (keys are made by
    storage_keys, never taken from an upload, so the extension is ours)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _CONTENT_TYPES.get(ext, "application/octet-stream")


def serve_private_file(
    request: HttpRequest,
    fieldfile: FieldFile,
    *,
    content_type: str,
    download_name: str | None = None,
) -> HttpResponse:
    """The file behind ``fieldfile`` for a request the caller has already authorised.

    ``download_name`` set: served as an attachment with that name; otherwise inline.
    A missing file is a 404, never a 500.
    """
    if not fieldfile or not fieldfile.name:
        raise Http404("No such file")
    disposition = content_disposition_header(
        as_attachment=download_name is not None, filename=download_name or ""
    )
    if settings.STORAGE_BACKEND == "s3":
        parameters = {"ResponseContentType": content_type, "ResponseCacheControl": "private"}
        if disposition:
            parameters["ResponseContentDisposition"] = disposition
        url = fieldfile.storage.url(
            fieldfile.name, parameters=parameters, expire=settings.SIGNED_URL_SECONDS
        )
        response: HttpResponse = HttpResponseRedirect(url)
        # The redirect names a URL that expires: nobody may keep it.
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        handle = fieldfile.storage.open(fieldfile.name, "rb")
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise Http404("No such file") from exc
    response = FileResponse(handle, content_type=content_type)
    # FileResponse would set an inline filename from the storage key; say only what we mean.
    if disposition:
        response["Content-Disposition"] = disposition
    elif "Content-Disposition" in response:
        del response["Content-Disposition"]
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = CACHE_CONTROL
    return response
