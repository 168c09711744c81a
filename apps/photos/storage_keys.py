"""Storage keys are generated, never the uploaded name: ws/<workspace uuid>/<kind>/<uuid>.<ext>."""

from __future__ import annotations

import uuid


def tenant_key(workspace_public_id, kind: str, ext: str) -> str:
    return f"ws/{workspace_public_id}/{kind}/{uuid.uuid4().hex}.{ext.lstrip('.')}"


def _key_for(instance, filename: str, kind: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    if not ext.isalnum() or len(ext) > 12:  # e.g. "safetensors"
        ext = "bin"
    return tenant_key(instance.workspace.public_id, kind, ext)


# Module-level functions so migrations can reference them.
def originals_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "originals")


def photos_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "photos")


def faces_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "faces")


def generated_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "generated")


def thumbs_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "thumbs")


def adapters_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "adapters")


def exports_upload_to(instance, filename: str) -> str:
    return _key_for(instance, filename, "exports")
