"""Look for a person anywhere: every text, JSON and UUID column of every table, and storage."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection

SCANNED_TYPES = ("text", "character varying", "json", "jsonb", "uuid")


def database_hits(needles: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every column of every table holding any needle."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = ANY(%s)",
            [list(SCANNED_TYPES)],
        )
        columns = cursor.fetchall()
        patterns = [f"%{needle}%" for needle in needles]
        hits = []
        for table, column in columns:
            # Table and column names come from information_schema, not from input.
            query = f'SELECT "{column}"::text FROM "{table}" WHERE "{column}"::text ILIKE ANY(%s)'  # noqa: S608, E501
            cursor.execute(query, [patterns])
            for (value,) in cursor.fetchall():
                hits += [(table, column, n) for n in needles if n.lower() in value.lower()]
    return hits


def media_files(root: str | Path) -> set[str]:
    """Every file under a local media root, as storage names."""
    root = str(root)
    names = set()
    for directory, _, files in os.walk(root):
        for name in files:
            names.add(os.path.relpath(os.path.join(directory, name), root))
    return names


def bucket_keys(client, bucket: str) -> set[str]:
    keys = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys
