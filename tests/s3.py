"""S3 against moto's server on loopback, with the production storage options.

Use the ``s3`` fixture (tests/conftest.py): a fresh private bucket named ``BUCKET`` becomes the
default storage for the test; it yields a boto3 client for looking behind the storage API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import boto3
from moto.server import ThreadedMotoServer

from config.settings.base import _storages

BUCKET = "likeness-test"


def moto_server() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def private_bucket_storage(settings, endpoint: str) -> Iterator:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    storage = _storages("s3")["default"]
    storage["OPTIONS"].update(
        bucket_name=BUCKET,
        endpoint_url=endpoint,
        access_key="testing",
        secret_key="testing",
        addressing_style="path",
        querystring_expire=settings.SIGNED_URL_SECONDS,
    )
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": storage}
    try:
        yield client
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=BUCKET, Key=item["Key"])
        client.delete_bucket(Bucket=BUCKET)
