"""Uploaded files in S3, each under its owner's prefix. One S3 client, created on first use.

    uploads/<user>/<id>/<name>   a file whose bytes were checked: stored with the detected type, as an attachment
    incoming/<user>/<id>/<name>  where a presigned POST puts a file. The owner's next list checks its first bytes and
                                 moves it to uploads/ (claims it), or deletes it when it is no allowed type. The
                                 bucket's lifecycle rule deletes whatever is still unclaimed a day later.

`<id>` is a UUID whose first 48 bits count down the milliseconds (version 8, RFC 9562 section 5.8), so S3's key
order, which ListObjectsV2 keeps, is newest first. `<user>` is the user id percent-encoded, so that no user id can
reach into another's prefix.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, ClassVar
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from apikit import aws
from apikit.config import get_settings
from apikit.errors import BadRequest, NotFound
from apikit.files import SNIFF_BYTES, attachment, detect_type, matching_name, safe_filename
from apikit.logging import logger
from apikit.repositories import error_code
from apikit.repositories.pages import INVALID_CURSOR, MAX_KEY_VALUE_BYTES, opaque, unopaque

UPLOADS, INCOMING = "uploads", "incoming"
URL_SECONDS = 15 * 60  # a download link's life
POST_SECONDS = 10 * 60  # a presigned POST's life
MAX_PRESIGNED_BYTES = 100 * 1024 * 1024
CLAIMS_PER_LIST = 20  # presigned uploads claimed by one list request; more wait for the next one
_HEADS_AT_ONCE = 8
_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_EXAMPLE_ID = "7e5b2d8c-1f00-8a3b-9c4d-5e6f708192a3"


@cache
def s3() -> Any:
    # SigV4 for every presigned URL and POST (required in regions opened since 2014). Addressing stays automatic:
    # virtual-hosted on AWS, path-style against the dev server's http://127.0.0.1:<port>.
    return aws.client("s3", Config(signature_version="s3v4"))


def new_id(now_ms: int | None = None) -> str:
    """A UUIDv8: 48 bits of milliseconds left until the year 10889, then random bits (newest sorts first)."""
    milliseconds = int(time.time() * 1000) if now_ms is None else now_ms
    value = ((1 << 48) - 1 - milliseconds) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF << 76) | 0x8 << 76  # version 8
    value = value & ~(0x3 << 62) | 0x2 << 62  # the RFC 9562 variant
    return str(uuid.UUID(int=value))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class UploadPath(BaseModel):
    """The `{id}` of /api/uploads/{id}: the `id` an upload or a presigned POST returned."""

    NOT_FOUND: ClassVar[str] = "You have no upload with this id."

    id: str = Field(pattern=_ID_PATTERN, max_length=36)


class Upload(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "key": f"uploads/user-123/{_EXAMPLE_ID}/photo.png",
                    "name": "photo.png",
                    "size": 48213,
                    "content_type": "image/png",
                    "uploaded_at": "2026-11-27T10:50:00.000000Z",
                    "url": f"https://uploads.s3.amazonaws.com/uploads/user-123/{_EXAMPLE_ID}/photo.png?X-Amz-Signature=...",
                }
            ]
        }
    )
    id: str = Field(description="Names the file in DELETE /api/uploads/{id}.")
    key: str = Field(description="The S3 object key: uploads/<user id>/<id>/<name>.")
    name: str = Field(description="The file name as stored: no directories, no control characters, 200 bytes at most.")
    size: int = Field(description="Bytes.")
    content_type: str = Field(description="Detected from the file's first bytes, not taken from the client.")
    uploaded_at: str
    url: str = Field(description="A presigned GET of the file (served as an attachment), valid 15 minutes.")


class UploadPage(BaseModel):
    items: list[Upload]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class PresignedPost(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _EXAMPLE_ID,
                    "key": f"incoming/user-123/{_EXAMPLE_ID}/report.pdf",
                    "url": "https://uploads.s3.amazonaws.com/",
                    "fields": {
                        "Content-Type": "application/pdf",
                        "key": f"incoming/user-123/{_EXAMPLE_ID}/report.pdf",
                        "x-amz-algorithm": "AWS4-HMAC-SHA256",
                        "x-amz-credential": "ASIA.../20261127/us-east-1/s3/aws4_request",
                        "x-amz-date": "20261127T105000Z",
                        "x-amz-security-token": "...",
                        "policy": "eyJleHBpcmF0aW9uIjog...",
                        "x-amz-signature": "3f1c...",
                    },
                    "expires_at": "2026-11-27T11:00:00.000000Z",
                }
            ]
        }
    )
    id: str = Field(description="The upload's id, for DELETE /api/uploads/{id}.")
    key: str = Field(
        description="Where the file lands: incoming/<user id>/<id>/<name>, until your next list claims it."
    )
    url: str = Field(description="POST a multipart/form-data form here: `fields` first, then the file as `file`.")
    fields: dict[str, str] = Field(description="Form fields to send as they are, before the file.")
    expires_at: str = Field(description="The form is refused after this time (10 minutes).")


def _owner(user_id: str) -> str:
    return quote(user_id, safe="")


def _cursor_context(bucket: str, prefix: str) -> tuple[str, ...]:
    return ("s3", bucket, prefix)


def encode_cursor(key: str, bucket: str, prefix: str) -> str:
    """The last key of a page of `prefix` as a cursor signed for that prefix (so for that user) only."""
    return opaque(key.removeprefix(prefix).encode(), _cursor_context(bucket, prefix))


def decode_cursor(cursor: str, bucket: str, prefix: str) -> str:
    """The key a page starts after, from a cursor signed for the caller's own prefix (apikit.repositories.pages)."""
    try:
        key = prefix + unopaque(cursor, _cursor_context(bucket, prefix)).decode()
    except UnicodeDecodeError as error:
        raise BadRequest(INVALID_CURSOR) from error
    # Signed, so one this API gave; still only a key it could have written (an id, a name without control
    # characters, within S3's 1,024 bytes), for which S3 (or moto) would otherwise answer a 500.
    upload_id, _, name = key.removeprefix(prefix).partition("/")
    valid = (
        len(key.encode()) <= MAX_KEY_VALUE_BYTES
        and re.fullmatch(_ID_PATTERN, upload_id) is not None
        and name == safe_filename(name)  # never "": an empty name is safe_filename's "file"
    )
    if not valid:
        raise BadRequest(INVALID_CURSOR)
    return key


def _missing(error: ClientError) -> bool:
    return error_code(error) in {"404", "NoSuchKey", "NotFound"}


class UploadsRepository:
    @property
    def bucket(self) -> str:
        return get_settings().uploads_bucket

    def download_url(self, key: str) -> str:
        return str(
            s3().generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=URL_SECONDS)
        )

    def store(self, user_id: str, name: str, data: bytes, content_type: str) -> Upload:
        """A checked file, stored under uploads/ with its detected type, as an attachment."""
        upload_id = new_id()
        key = f"{UPLOADS}/{_owner(user_id)}/{upload_id}/{name}"
        now = _timestamp(datetime.now(UTC))
        s3().put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ContentDisposition=attachment(name),
            Metadata={"uploaded-at": now},
        )
        return Upload(
            id=upload_id,
            key=key,
            name=name,
            size=len(data),
            content_type=content_type,
            uploaded_at=now,
            url=self.download_url(key),
        )

    def presign(self, user_id: str, name: str, content_type: str, size: int) -> PresignedPost:
        """A form for this exact key under the caller's incoming/ prefix, this Content-Type and 1..size bytes, that
        S3 accepts until POST_SECONDS have passed (as often as it is sent: each upload replaces the last, and the next
        list checks whatever is there). S3 checks each condition against the policy the signature covers; the dev
        server's S3 (moto) checks none of them."""
        upload_id = new_id()
        key = f"{INCOMING}/{_owner(user_id)}/{upload_id}/{name}"
        expires = datetime.now(UTC) + timedelta(seconds=POST_SECONDS)
        post = s3().generate_presigned_post(
            self.bucket,
            key,  # botocore adds the conditions {"bucket": ...} and {"key": key}: an exact match
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, size]],
            ExpiresIn=POST_SECONDS,
        )
        return PresignedPost(
            id=upload_id, key=key, url=post["url"], fields=post["fields"], expires_at=_timestamp(expires)
        )

    def page(self, user_id: str, limit: int, cursor: str | None) -> UploadPage:
        """The caller's files, newest first, after claiming their finished presigned uploads."""
        self.claim(user_id)
        prefix = f"{UPLOADS}/{_owner(user_id)}/"
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if cursor is not None:
            request["StartAfter"] = decode_cursor(cursor, self.bucket, prefix)
        result = s3().list_objects_v2(**request)
        entries = result.get("Contents", [])
        # ListObjectsV2 gives no content type: one HEAD per file, a few at a time.
        with ThreadPoolExecutor(max_workers=min(_HEADS_AT_ONCE, max(1, len(entries)))) as pool:
            described = list(pool.map(self._describe, entries))
        items = [upload for upload in described if upload is not None]
        last = entries[-1]["Key"] if entries and result.get("IsTruncated") else None
        return UploadPage(items=items, next_cursor=encode_cursor(last, self.bucket, prefix) if last else None)

    def _describe(self, entry: dict[str, Any]) -> Upload | None:
        key: str = entry["Key"]
        try:
            head = s3().head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):  # deleted since it was listed
                return None
            raise
        upload_id, name = key.split("/")[2], key.split("/", 3)[3]
        return Upload(
            id=upload_id,
            key=key,
            name=name,
            size=int(entry["Size"]),
            # S3 always answers a Content-Type (binary/octet-stream if none was set), botocore always a Metadata map.
            content_type=str(head["ContentType"]),
            uploaded_at=head["Metadata"].get("uploaded-at") or _timestamp(entry["LastModified"]),
            url=self.download_url(key),
        )

    def claim(self, user_id: str) -> None:
        """Move finished presigned uploads from incoming/ to uploads/, checked as a direct upload is (by their first
        SNIFF_BYTES), or delete them. Safe to run twice at once: the copy and the delete can both be repeated."""
        owner = _owner(user_id)
        pending = s3().list_objects_v2(Bucket=self.bucket, Prefix=f"{INCOMING}/{owner}/", MaxKeys=CLAIMS_PER_LIST)
        for entry in pending.get("Contents", []):
            key: str = entry["Key"]
            upload_id, name = key.split("/")[2], key.split("/", 3)[3]
            media_type, checked = None, ""
            if entry["Size"] > 0:
                try:
                    first = s3().get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
                except ClientError as error:
                    if _missing(error):  # claimed by a concurrent list
                        continue
                    raise
                media_type = detect_type(first["Body"].read(), whole=entry["Size"] <= SNIFF_BYTES)
                checked = first["ETag"]
            if media_type is None:
                logger.warning("presigned upload deleted: not an allowed type", extra={"key": key})
            else:
                stored_name = matching_name(name, media_type)
                try:
                    s3().copy_object(
                        Bucket=self.bucket,
                        Key=f"{UPLOADS}/{owner}/{upload_id}/{stored_name}",
                        CopySource={"Bucket": self.bucket, "Key": key},
                        MetadataDirective="REPLACE",
                        ContentType=media_type,
                        ContentDisposition=attachment(stored_name),
                        Metadata={"uploaded-at": _timestamp(entry["LastModified"])},
                        # Only the bytes just checked: the form may be sent again until it expires, and a file
                        # that replaced them is left for the next list to check (and is not deleted unseen).
                        CopySourceIfMatch=checked,
                    )
                except ClientError as error:
                    # Missing: a concurrent list copied and deleted it between our read and copy.
                    if _missing(error) or error_code(error) == "PreconditionFailed":
                        continue
                    raise
            s3().delete_object(Bucket=self.bucket, Key=key)

    def delete(self, user_id: str, upload_id: str) -> None:
        """The caller's file with this id, claimed or not; NotFound when the caller has none (whoever else might)."""
        owner = _owner(user_id)
        keys = [
            entry["Key"]
            for area in (UPLOADS, INCOMING)
            for entry in s3()
            # A few keys at most: the unclaimed file, and one stored name per type its form's uploads were claimed as.
            .list_objects_v2(Bucket=self.bucket, Prefix=f"{area}/{owner}/{upload_id}/")
            .get("Contents", [])
        ]
        if not keys:
            raise NotFound(UploadPath.NOT_FOUND)
        for key in keys:
            s3().delete_object(Bucket=self.bucket, Key=key)
