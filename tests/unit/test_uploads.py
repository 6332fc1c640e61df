"""POST/GET /api/uploads, POST /api/uploads/presign and DELETE /api/uploads/{id}, in-process on moto's S3.

What a user would notice: what is accepted and how it is stored, every refusal as problem+json with its status, whose
files a user sees and may delete, and the exact conditions S3 will enforce on a presigned POST (moto does not enforce
them, so the signed policy is decoded and its signature checked here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
import urllib3
from moto import mock_aws

from devserver.template import bucket_name
from tests.conftest import (
    CURSOR_KEY,
    PUBLIC_KEYS,
    ROOT,
    SIGNING_KEY,
    _client,
    assert_problem,
    bearer,
    invoke,
    load_event,
)

BUCKET = bucket_name("UploadsBucket")
MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
SAMPLES = {
    "image/png": PNG,
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 64,
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x02" * 64,
    "image/gif": b"GIF89a\x01\x00\x01\x00" + b"\x03" * 64,
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    "text/plain": "Grüße, 世界: plain UTF-8 text.\n".encode(),
}
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64  # a Windows executable


@pytest.fixture
def s3() -> Iterator[Any]:
    """moto with the template's uploads bucket, the JWT key and the cursor key: the `aws` fixture less the tables these
    routes never touch (creating them is most of a test's time here)."""
    from aws_lambda_powertools.utilities import parameters

    from apikit.config import get_settings

    get_settings.cache_clear()
    parameters.clear_caches()
    with mock_aws():
        _client("secretsmanager").create_secret(Name="JwtPublicKeys", SecretString=PUBLIC_KEYS)
        _client("secretsmanager").create_secret(Name="JwtSigningKey", SecretString=SIGNING_KEY)  # for bearer()
        _client("secretsmanager").create_secret(Name="CursorKey", SecretString=CURSOR_KEY)
        _client("s3").create_bucket(Bucket=BUCKET)
        yield _client("s3")
    parameters.clear_caches()


def form(*parts: tuple[str, Any], boundary: str = "test-boundary-7MA4YWxkTrZu0gW") -> tuple[bytes, str]:
    """A multipart/form-data body as urllib3 (under requests) builds it from (name, (filename, data, type)) parts."""
    return urllib3.encode_multipart_formdata(list(parts), boundary=boundary)


def upload_event(body: bytes, content_type: str, user: str | None = "alice") -> dict[str, Any]:
    headers = {"authorization": bearer(user) if user else None, "content-type": content_type}
    return load_event(
        "uploads_create/post.json", headers=headers, body=base64.b64encode(body).decode(), isBase64Encoded=True
    )


def upload(data: bytes, filename: str = "file.bin", client_type: str = "application/octet-stream", **kwargs: Any):
    body, content_type = form(("file", (filename, data, client_type)))
    return invoke("uploads_create", upload_event(body, content_type, **kwargs))


def listing(user: str = "alice", **query: str):
    return invoke(
        "uploads_list", load_event("uploads_list/get.json", headers={"authorization": bearer(user)}, query=query)
    )


def delete(upload_id: str, user: str | None = "alice"):
    headers = {"authorization": bearer(user) if user else None}
    return invoke(
        "uploads_delete", load_event("uploads_delete/delete.json", headers=headers, path=f"/api/uploads/{upload_id}")
    )


def presign(body: Any, user: str | None = "alice"):
    headers = {"authorization": bearer(user) if user else None}
    return invoke("uploads_presign", load_event("uploads_presign/post.json", headers=headers, body=body))


def keys(s3: Any, prefix: str = "") -> list[str]:
    return [entry["Key"] for entry in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


# --- POST /api/uploads: what is accepted, and how it is stored ---------------------------------------------------


@pytest.mark.parametrize("media_type", sorted(SAMPLES))
def test_each_allowed_type_is_stored_with_the_type_its_bytes_show(s3, media_type):
    # The client claims nothing useful: a generic type and a name without an extension.
    result = upload(SAMPLES[media_type], filename="upload", client_type="application/octet-stream")

    assert result.status == 201, result.body
    created = result.json()
    assert created["content_type"] == media_type
    assert created["size"] == len(SAMPLES[media_type])
    # The name gets the detected type's own extension, so a saved download opens as what it is.
    extension = {"image/jpeg": "jpg", "text/plain": "txt"}.get(media_type, media_type.split("/")[1])
    assert re.fullmatch(rf"uploads/alice/[0-9a-f-]{{36}}/upload\.{extension}", created["key"])
    assert created["key"] == f"uploads/alice/{created['id']}/{created['name']}"
    stored = s3.get_object(Bucket=BUCKET, Key=created["key"])
    assert stored["Body"].read() == SAMPLES[media_type]
    assert stored["ContentType"] == media_type
    assert stored["ContentDisposition"].startswith("attachment;")


def test_the_answer_carries_a_download_link_valid_for_15_minutes(s3):
    created = upload(PNG, "photo.png", "image/png").json()

    url = urlsplit(created["url"])
    query = parse_qs(url.query)
    assert unquote(url.path).endswith(f"/{created['key']}")
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert set(created) == {"id", "key", "name", "size", "content_type", "uploaded_at", "url"}


def test_the_clients_content_type_and_extension_do_not_decide_the_type(s3):
    result = upload(PNG, filename="notes.txt", client_type="text/plain")

    assert result.status == 201
    assert result.json()["content_type"] == "image/png"
    assert result.json()["name"] == "notes.txt.png"  # the extension the bytes call for follows the client's


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("page.html", "page.html.txt"),  # text, never a web page when opened from the downloads folder
        ("image.svg", "image.svg.txt"),
        ("run.sh", "run.sh.txt"),
        ("notes.md", "notes.md"),
        ("data.CSV", "data.CSV"),
        ("README", "README.txt"),
        ("notes.v2.txt", "notes.v2.txt"),  # the last extension is the one that counts
        ("notes.txt.html", "notes.txt.html.txt"),
    ],
)
def test_a_text_file_keeps_only_an_extension_that_opens_as_text(s3, sent, stored):
    assert upload(b"<script>alert(1)</script>\n", sent, "text/html").json()["name"] == stored


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (EXE, "a Windows executable"),
        (b"PK\x03\x04\x14\x00\x00\x00" + b"\x00" * 32, "a zip archive"),
        (b"\x00\x01\x02 binary \xfe\xff", "binary data"),
        (b"<html>\xff\xfe not UTF-8</html>", "text that is not UTF-8"),
        (b"caf\xc3\xa9 cr\xc3", "text that ends inside a character"),  # a whole file: cut, not text
    ],
)
def test_a_disallowed_type_renamed_to_png_is_a_415_and_nothing_is_stored(s3, data, what):
    result = upload(data, filename="cat.png", client_type="image/png")

    body = assert_problem(result, 415, "/api/uploads")
    assert "PNG, JPEG, WebP, GIF, PDF or plain text" in body["detail"], what
    assert keys(s3) == []


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"RIFF\x04\x00\x00\x00WEBP", "image/webp"),  # the shortest WebP signature: 12 bytes
        (b"RIFF\x04\x00\x00\x00WEB", None),  # one byte short
        (b"Notes onWEBP images\n", "text/plain"),  # "WEBP" where WebP has it, but no RIFF before it
        (b"RIFF notes: WEBX\n", "text/plain"),  # RIFF, but no WEBP after it
    ],
    ids=["riff-webp-12-bytes", "riff-webp-11-bytes", "webp-without-riff", "riff-without-webp"],
)
def test_a_file_is_webp_only_with_riff_and_webp_in_their_places(s3, data, media_type):
    result = upload(data, "file", "image/webp")

    if media_type is None:
        assert_problem(result, 415)
    else:
        assert result.status == 201, result.body
        assert result.json()["content_type"] == media_type


def test_a_file_of_exactly_4_mib_is_accepted(s3):
    data = b"%PDF-1.7\n" + b"0" * (4 * MIB - 9)

    result = upload(data, "big.pdf", "application/pdf")

    assert result.status == 201, result.body
    assert result.json()["size"] == 4 * MIB
    assert s3.head_object(Bucket=BUCKET, Key=result.json()["key"])["ContentLength"] == 4 * MIB


def test_one_byte_over_4_mib_is_a_413_that_names_the_presigned_route(s3):
    data = b"%PDF-1.7\n" + b"0" * (4 * MIB - 8)

    body = assert_problem(upload(data, "big.pdf", "application/pdf"), 413, "/api/uploads")

    assert "POST /api/uploads/presign" in body["detail"]
    assert keys(s3) == []


def test_a_body_far_over_the_limit_is_a_413_before_it_is_parsed(s3):
    # 5 MiB of anything: refused by its size alone (it is not even a valid form).
    body = assert_problem(
        invoke("uploads_create", upload_event(b"x" * (5 * MIB), "multipart/form-data; boundary=b")), 413
    )

    assert "POST /api/uploads/presign" in body["detail"]


def test_an_empty_file_is_a_422(s3):
    body = assert_problem(upload(b"", "empty.txt", "text/plain"), 422)

    assert body["errors"] == [{"loc": ["body", "file"], "msg": "The file is empty.", "type": "empty"}]


@pytest.mark.parametrize(
    "parts",
    [
        (("title", "no file at all"),),
        (("document", ("a.png", PNG, "image/png")),),  # a file, but not in the field `file`
        (("file", ("", b"", "application/octet-stream")),),  # a browser's file input left empty
    ],
    ids=["only-a-text-field", "file-in-another-field", "empty-file-input"],
)
def test_a_form_without_the_file_field_is_a_422_missing(s3, parts):
    body, content_type = form(*parts)

    problem = assert_problem(invoke("uploads_create", upload_event(body, content_type)), 422)

    assert problem["errors"][0]["loc"] == ["body", "file"]
    assert problem["errors"][0]["type"] == "missing"


def test_text_in_the_file_field_is_a_422(s3):
    body, content_type = form(("file", "just some text"))

    problem = assert_problem(invoke("uploads_create", upload_event(body, content_type)), 422)

    assert problem["errors"][0]["type"] == "not_a_file"


def test_two_files_are_a_422_and_neither_is_stored(s3):
    body, content_type = form(("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png")))

    problem = assert_problem(invoke("uploads_create", upload_event(body, content_type)), 422)

    assert problem["errors"][0]["type"] == "too_many_files"
    assert keys(s3) == []


def test_other_text_fields_are_ignored(s3):
    body, content_type = form(("description", "my cat"), ("file", ("cat.png", PNG, "image/png")), ("submit", "Upload"))

    assert invoke("uploads_create", upload_event(body, content_type)).status == 201


@pytest.mark.parametrize(
    ("content_type", "mutilate"),
    [
        ("multipart/form-data", lambda body: body),  # no boundary
        ("multipart/form-data; boundary=test-boundary-7MA4YWxkTrZu0gW", lambda body: body[:-40]),  # truncated
        ("multipart/form-data; boundary=test-boundary-7MA4YWxkTrZu0gW", lambda body: body[: body.index(b"\r\n\r\n")]),
        ("multipart/form-data; boundary=another-boundary", lambda body: body),  # a boundary the body never uses
        (
            "multipart/form-data; boundary=test-boundary-7MA4YWxkTrZu0gW",
            lambda body: b"--test-boundary-7MA4YWxkTrZu0gW\r\nno-colon-here\r\n\r\nx",
        ),
        ("multipart/form-data; boundary=" + "b" * 300, lambda body: body),  # longer than the parser allows
        ("multipart/form-data; boundary=☃", lambda body: body),  # not Latin-1: the parser cannot read the header
    ],
    ids=[
        "no-boundary",
        "truncated-data",
        "truncated-headers",
        "wrong-boundary",
        "bad-header",
        "huge-boundary",
        "non-latin-1-boundary",
    ],
)
def test_a_malformed_multipart_body_is_a_400(s3, content_type, mutilate):
    body, _ = form(("file", ("a.png", PNG, "image/png")))

    problem = assert_problem(invoke("uploads_create", upload_event(mutilate(body), content_type)), 400, "/api/uploads")

    assert "multipart/form-data" in problem["detail"]
    assert keys(s3) == []


@pytest.mark.parametrize("body", [None, ""], ids=["absent", "empty"])
def test_a_form_without_a_body_is_a_400_saying_it_ends_before_its_closing_boundary(s3, body):
    event = load_event(
        "uploads_create/post.json",
        headers={"authorization": bearer("alice"), "content-type": "multipart/form-data; boundary=abc"},
        body=body,
        isBase64Encoded=False,
    )

    problem = assert_problem(invoke("uploads_create", event), 400, "/api/uploads")

    assert problem["detail"] == "The multipart/form-data body is truncated: its closing boundary is missing."
    assert keys(s3) == []


def test_a_json_body_is_a_415(s3):
    event = load_event(
        "uploads_create/post.json",
        headers={"authorization": bearer("alice"), "content-type": "application/json"},
        body="{}",
        isBase64Encoded=False,
    )

    problem = assert_problem(invoke("uploads_create", event), 415)

    assert problem["detail"] == "Content-Type must be multipart/form-data."


# --- file names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\System32\\evil.txt", "evil.txt"),
        ("/absolute/path/notes.txt", "notes.txt"),
        ("..", "file.txt"),
        ("...hidden.txt", "hidden.txt"),
        ("a\x07b\x1bc\x7f.txt", "abc.txt"),
        ("invoice\u202egnp.txt", "invoicegnp.txt"),  # a right-to-left override would show "invoicetxt.png"
        ('what?"<>|*:.txt', "what_______.txt"),
        ("résumé 履歴書 🚀.txt", "résumé 履歴書 🚀.txt"),
        ("e\u0301te\u0301.txt", "été.txt"),  # decomposed accents are composed (NFC)
    ],
)
def test_the_stored_name_is_safe_and_keeps_unicode(s3, sent, stored):
    result = upload(b"hello\n", sent, "text/plain")

    assert result.status == 201, result.body
    created = result.json()
    assert created["name"] == stored
    assert created["key"] == f"uploads/alice/{created['id']}/{stored}"
    head = s3.head_object(Bucket=BUCKET, Key=created["key"])
    assert unquote(head["ContentDisposition"].split("filename*=UTF-8''")[1]) == stored


def test_a_unicode_name_is_sent_back_in_content_disposition_as_rfc_8187(s3):
    created = upload(b"hello\n", "résumé 履歴書.txt", "text/plain").json()

    disposition = s3.head_object(Bucket=BUCKET, Key=created["key"])["ContentDisposition"]

    assert disposition.startswith('attachment; filename="r_sum_ ___.txt"; ')
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "résumé 履歴書.txt"


def test_a_long_name_is_cut_to_200_bytes_and_keeps_its_extension(s3):
    sent = "日本" * 200 + ".txt"

    created = upload(b"hello\n", sent, "text/plain").json()

    assert 190 < len(created["name"].encode()) <= 200
    assert created["name"].endswith(".txt")
    assert sent.startswith(created["name"].removesuffix(".txt"))  # cut between characters, never inside one


def test_a_name_that_gets_an_extension_is_cut_to_200_bytes_between_characters(s3):
    sent = "日本" * 33  # 198 bytes without an extension: ".txt" is added, so the name is cut first

    created = upload(b"hello\n", sent, "text/plain").json()

    assert created["name"] == "日本" * 32 + "日.txt"  # 195 + 4 bytes: 196 would end inside a character
    assert upload(b"hello\n", "n" * 200, "text/plain").json()["name"] == "n" * 196 + ".txt"


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("XRAY.txt", "XRAY.txt", "XRAY.txt"),
        ('a"b\\c%d.txt', "a_b_c_d.txt", "a%22b%5Cc%25d.txt"),
        ("tab\there\x7f~.txt", "tab_here_~.txt", "tab%09here%7F~.txt"),  # controls and DEL are not ASCII text
        ("a/b.txt", "a/b.txt", "a%2Fb.txt"),  # RFC 8187 percent-encodes every character outside attr-char
        ("résumé.txt", "r_sum_.txt", "r%C3%A9sum%C3%A9.txt"),
    ],
    ids=["letters", "quote-backslash-percent", "controls", "slash", "non-ascii"],
)
def test_the_content_disposition_names_the_file_in_ascii_and_in_rfc_8187(name, fallback, encoded):
    from apikit.files import attachment

    assert attachment(name) == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# --- auth and ownership -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_without_token",
    [
        lambda: upload(PNG, user=None),
        lambda: invoke("uploads_list", load_event("uploads_list/get.json", headers={"authorization": None})),
        lambda: presign({"filename": "a.pdf", "content_type": "application/pdf", "size": 10}, user=None),
        lambda: delete("7e5b2d8c-1f00-8a3b-9c4d-5e6f708192a3", user=None),
    ],
    ids=["upload", "list", "presign", "delete"],
)
def test_every_route_needs_a_bearer_token(s3, request_without_token):
    result = request_without_token()

    assert_problem(result, 401)
    assert result.headers["www-authenticate"].startswith("Bearer")
    assert keys(s3) == []


def test_a_user_lists_only_their_own_files(s3):
    mine = upload(PNG, "mine.png").json()
    upload(PNG, "theirs.png", user="bob")

    items = listing("alice").json()["items"]

    assert [item["id"] for item in items] == [mine["id"]]
    assert items[0] == {**mine, "url": items[0]["url"]}


def test_another_users_file_cannot_be_deleted_and_is_a_404(s3):
    theirs = upload(PNG, "theirs.png", user="bob").json()

    problem = assert_problem(delete(theirs["id"], user="alice"), 404)

    assert problem["detail"] == "You have no upload with this id."
    assert keys(s3) == [theirs["key"]]


def test_the_owner_deletes_a_file_and_then_it_is_gone(s3):
    created = upload(PNG, "mine.png").json()

    result = delete(created["id"])

    assert result.status == 204
    assert result.body == ""
    assert keys(s3) == []
    assert listing().json()["items"] == []
    assert_problem(delete(created["id"]), 404)


def test_delete_on_the_presign_path_is_a_405_as_for_any_method_a_path_does_not_serve(s3):
    # On API Gateway DELETE /api/uploads/presign matches DELETE /api/uploads/{id}, not the catch-all.
    result = delete("presign")

    assert_problem(result, 405, "/api/uploads/presign")
    assert result.headers["allow"] == "POST, OPTIONS"


def test_an_id_that_is_not_an_upload_id_is_a_404(s3):
    assert_problem(delete("not-an-id"), 404)


def test_a_user_id_cannot_reach_into_another_users_prefix(s3):
    upload(PNG, "secret.png", user="bob/x")
    upload(PNG, "other.png", user="bob")

    items = listing("bob").json()["items"]

    assert [item["name"] for item in items] == ["other.png"]
    assert keys(s3, "uploads/bob%2Fx/") != []


# --- GET /api/uploads: order and pages ------------------------------------------------------------------------


def test_files_are_listed_newest_first_page_by_page(s3):
    created = [upload(PNG, f"{n}.png").json() for n in range(3)]

    first = listing(limit="2").json()
    second = listing(limit="2", cursor=first["next_cursor"]).json()

    assert [item["name"] for item in first["items"]] == ["2.png", "1.png"]
    assert [item["name"] for item in second["items"]] == ["0.png"]
    assert second["next_cursor"] is None
    assert {item["id"] for item in first["items"] + second["items"]} == {item["id"] for item in created}
    assert all(parse_qs(urlsplit(item["url"]).query)["X-Amz-Expires"] == ["900"] for item in first["items"])


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90LWEta2V5",
        _cursor("uploads/bob/x/y.png"),
        # Under the caller's own prefix, but no key this API writes: S3 (or moto) may answer those with a 500.
        _cursor("uploads/alice/\x00"),
        _cursor("uploads/alice/\x1f"),
        _cursor("uploads/alice/not-an-id/y.png"),
        _cursor("uploads/alice/7e5b2d8c-1f00-8a3b-9c4d-5e6f708192a3/a\u0000b.png"),
        _cursor("uploads/alice/7e5b2d8c-1f00-8a3b-9c4d-5e6f708192a3/" + "猫" * 400),  # over 1,024 bytes
    ],
)
def test_a_cursor_the_api_did_not_give_this_user_is_a_400(s3, cursor):
    upload(PNG, "theirs.png", user="bob")

    assert_problem(listing(cursor=cursor), 400)


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_a_bad_limit_is_a_400(s3, limit):
    assert_problem(listing(limit=limit), 400)


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound"])
def test_a_file_deleted_between_the_listing_and_its_head_is_left_out(s3, monkeypatch, code):
    """Another request deletes the file after S3 listed it: S3 answers its HEAD with 404 (the code of a HEAD, which
    has no body to name another; some S3-compatible stores give NoSuchKey or NotFound)."""
    from botocore.exceptions import ClientError

    from apikit.repositories import uploads as repository

    gone = upload(PNG, "gone.png").json()
    kept = upload(PNG, "kept.png").json()
    client = repository.s3()
    head = client.head_object

    def deleted_meanwhile(**request: Any) -> Any:
        if request["Key"] == gone["key"]:
            client.delete_object(Bucket=BUCKET, Key=gone["key"])
            raise ClientError({"Error": {"Code": code, "Message": "Not Found"}}, "HeadObject")
        return head(**request)

    monkeypatch.setattr(client, "head_object", deleted_meanwhile)
    result = listing()

    assert result.status == 200, result.body
    assert [item["id"] for item in result.json()["items"]] == [kept["id"]]


# --- POST /api/uploads/presign --------------------------------------------------------------------------------


def _signing_key(secret: str, date: str, region: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def test_a_presigned_post_is_signed_for_one_key_its_type_and_its_size(s3):
    before = datetime.now(UTC)
    result = presign({"filename": "../Quarterly report.pdf", "content_type": "application/pdf", "size": 50 * MIB})

    assert result.status == 200, result.body
    answer = result.json()
    fields = answer["fields"]
    assert answer["key"] == f"incoming/alice/{answer['id']}/Quarterly report.pdf"
    assert fields["key"] == answer["key"]
    assert fields["Content-Type"] == "application/pdf"
    # S3 checks the form against the policy that the signature covers: the signature is over this very policy.
    credentials = boto3.Session().get_credentials().get_frozen_credentials()  # what the function signed with
    credential = fields["x-amz-credential"].split("/")
    assert credential[0] == credentials.access_key
    assert credential[2:] == ["us-east-1", "s3", "aws4_request"]
    key = _signing_key(credentials.secret_key, credential[1], credential[2])
    expected_signature = hmac.new(key, fields["policy"].encode(), hashlib.sha256).hexdigest()
    assert fields["x-amz-signature"] == expected_signature
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": answer["key"]} in conditions  # exact: no starts-with, no ${filename}
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, 50 * MIB] in conditions
    assert not [condition for condition in conditions if isinstance(condition, list) and condition[0] == "starts-with"]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert (
        before + timedelta(minutes=9, seconds=55) <= expiration <= datetime.now(UTC) + timedelta(minutes=10, seconds=5)
    )
    assert abs(datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00")) - expiration) < timedelta(seconds=2)
    assert result.headers["cache-control"] == "no-store"
    assert keys(s3) == []  # signing touches nothing


def test_a_presigned_posts_expiry_is_10_minutes_of_real_time_whatever_the_clocks_zone(s3, monkeypatch):
    """At 01:55 New York daylight time on the night clocks go back an hour (05:55 UTC), 10 minutes later is 06:05
    UTC, not 02:05 on the wall clock (07:05 UTC)."""
    import time

    from apikit.repositories import uploads as repository

    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            moment = datetime(2026, 11, 1, 5, 55, tzinfo=UTC)
            return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)

    monkeypatch.setattr(repository, "datetime", Clock)
    monkeypatch.setenv("TZ", "EST5EDT,M3.2.0,M11.1.0")
    time.tzset()
    try:
        answer = presign({"filename": "a.pdf", "content_type": "application/pdf", "size": 10}).json()
    finally:
        monkeypatch.undo()
        time.tzset()

    assert answer["expires_at"] == "2026-11-01T06:05:00.000000Z"


def test_a_presigned_name_loses_its_private_use_characters(s3):
    """They show as nothing anyone agreed on (or as a vendor's icon): as invisible as a control character."""
    answer = presign({"filename": "a\ue000b\U000f0000.pdf", "content_type": "application/pdf", "size": 10}).json()

    assert answer["key"] == f"incoming/alice/{answer['id']}/ab.pdf"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("X-ray of X", "X-ray of X"),
        ("a" * 195 + "..txt", "a" * 195 + "..txt"),  # 200 bytes: not cut
        ("a.b" + "c" * 300 + ".txt", "a.b" + "c" * 193 + ".txt"),  # the last extension is kept
        ("a" * 300, "a" * 200),  # no extension
        ("a" * 200 + "." + "b" * 16, "a" * 183 + "." + "b" * 16),  # 16 characters: an extension
        ("a" * 190 + "." + "b" * 20, "a" * 190 + "." + "b" * 9),  # 17 and more: part of the name
        ("a" * 195 + "." + "b" * 10 + ".txt", "a" * 195 + ".txt"),  # no dot left before the extension
        ("a" * 195 + " " + "b" * 10 + ".txt", "a" * 195 + ".txt"),  # nor a space
        ("a" * 195 + "X" + "b" * 10 + ".txt", "a" * 195 + "X.txt"),
    ],
    ids=[
        "short",
        "200-bytes",
        "dots-in-the-stem",
        "no-extension",
        "16-character-extension",
        "20-character-extension",
        "cut-before-a-dot",
        "cut-before-a-space",
        "cut-before-a-letter",
    ],
)
def test_a_long_name_is_cut_to_200_bytes_keeping_its_extension(name, safe):
    from apikit.files import safe_filename

    assert safe_filename(name) == safe
    assert len(safe.encode()) <= 200


def test_a_safe_name_holds_no_lone_surrogate():
    """No route passes one (a form's name is decoded with replacement, JSON's \\ud800 is a 422), and no UTF-8 could
    hold it in an S3 key."""
    from apikit.files import safe_filename

    assert safe_filename("a\ud800b\udfff.txt") == "ab.txt"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 100 * MIB + 1}, "size"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 0}, "size"),
        ({"filename": "a.html", "content_type": "text/html", "size": 10}, "content_type"),
        ({"filename": "", "content_type": "text/plain", "size": 10}, "filename"),
        ({"filename": "a.pdf", "content_type": "application/pdf"}, "size"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": "10"}, "size"),
        ({"filename": "a.pdf", "content_type": "application/pdf", "size": 10, "acl": "public-read"}, "acl"),
    ],
)
def test_a_presign_request_outside_the_rules_is_a_422(s3, body, field):
    problem = assert_problem(presign(body), 422)

    assert [error["loc"] for error in problem["errors"]] == [["body", field]]


def test_100_mib_is_the_largest_presigned_size(s3):
    answer = presign({"filename": "a.pdf", "content_type": "application/pdf", "size": 100 * MIB}).json()

    assert ["content-length-range", 1, 100 * MIB] in json.loads(base64.b64decode(answer["fields"]["policy"]))[
        "conditions"
    ]


def _post_to_s3(s3: Any, answer: dict[str, Any], data: bytes) -> None:
    """What S3 does with an accepted presigned POST (moto's server does it in the integration test)."""
    s3.put_object(Bucket=BUCKET, Key=answer["key"], Body=data, ContentType=answer["fields"]["Content-Type"])


def test_a_presigned_upload_is_checked_and_listed_by_the_owners_next_list(s3):
    answer = presign({"filename": "scan.pdf", "content_type": "application/pdf", "size": 9 * MIB}).json()
    data = b"%PDF-1.7\n" + b"1" * (9 * MIB - 9)
    _post_to_s3(s3, answer, data)

    items = listing().json()["items"]

    assert [(item["id"], item["name"], item["size"], item["content_type"]) for item in items] == [
        (answer["id"], "scan.pdf", 9 * MIB, "application/pdf")
    ]
    assert items[0]["key"] == f"uploads/alice/{answer['id']}/scan.pdf"
    assert keys(s3, "incoming/") == []
    head = s3.head_object(Bucket=BUCKET, Key=items[0]["key"])
    assert head["ContentDisposition"].startswith("attachment;")
    assert listing("bob").json()["items"] == []


def test_a_list_racing_another_list_for_the_same_claim_is_a_200(s3, monkeypatch):
    """Two tabs (or React StrictMode's double effect) list at once: the other one claims the file first."""
    from apikit.repositories import uploads as repository

    answer = presign({"filename": "a.png", "content_type": "image/png", "size": 1000}).json()
    _post_to_s3(s3, answer, PNG)
    client = repository.s3()
    copy = client.copy_object

    def copied_and_deleted_by_the_other_list_first(**request: Any) -> Any:
        copy(**request)
        client.delete_object(Bucket=BUCKET, Key=request["CopySource"]["Key"])
        return copy(**request)  # NoSuchKey: the source is gone

    monkeypatch.setattr(client, "copy_object", copied_and_deleted_by_the_other_list_first)
    result = listing()

    assert result.status == 200, result.body
    assert [item["id"] for item in result.json()["items"]] == [answer["id"]]


def test_a_file_sent_again_between_the_check_and_the_copy_is_left_for_the_next_list(s3, monkeypatch):
    """S3 refuses the copy (CopySourceIfMatch) when the bytes changed since they were checked; moto does not
    check that condition, so the test makes the copy answer as S3 does and asserts what the claim sends."""
    from botocore.exceptions import ClientError

    from apikit.repositories import uploads as repository

    answer = presign({"filename": "a.png", "content_type": "image/png", "size": 1000}).json()
    _post_to_s3(s3, answer, PNG)
    client = repository.s3()
    sent: list[dict[str, Any]] = []

    def replaced_since_checked(**request: Any) -> Any:
        sent.append(request)
        raise ClientError(
            {"Error": {"Code": "PreconditionFailed", "Message": "At least one of the pre-conditions"}}, "CopyObject"
        )

    monkeypatch.setattr(client, "copy_object", replaced_since_checked)
    result = listing()

    assert result.status == 200, result.body
    assert result.json()["items"] == []
    assert sent[0]["CopySourceIfMatch"] == s3.head_object(Bucket=BUCKET, Key=answer["key"])["ETag"]
    assert keys(s3, "incoming/") == [answer["key"]]  # not deleted: the next list checks the new bytes
    monkeypatch.undo()
    assert [item["id"] for item in listing().json()["items"]] == [answer["id"]]


def test_a_presigned_upload_whose_bytes_are_no_allowed_type_is_deleted_not_listed(s3):
    answer = presign({"filename": "cat.png", "content_type": "image/png", "size": 1000}).json()
    _post_to_s3(s3, answer, EXE)

    assert listing().json()["items"] == []
    assert keys(s3) == []


def test_a_presigned_upload_is_stored_with_its_detected_type_not_the_declared_one(s3):
    answer = presign({"filename": "notes.txt", "content_type": "text/plain", "size": 1000}).json()
    _post_to_s3(s3, answer, PNG)

    (item,) = listing().json()["items"]

    assert item["content_type"] == "image/png"


def test_a_large_presigned_text_file_is_judged_by_its_first_bytes_even_if_they_end_inside_a_character(s3):
    data = "日本語のテキスト\n".encode() * 1000  # 8,192 bytes is not a whole number of these 3-byte characters
    answer = presign({"filename": "notes.txt", "content_type": "text/plain", "size": len(data)}).json()
    _post_to_s3(s3, answer, data)

    (item,) = listing().json()["items"]

    assert (item["content_type"], item["size"]) == ("text/plain", len(data))


def test_another_user_does_not_claim_or_see_a_presigned_upload(s3):
    answer = presign({"filename": "a.pdf", "content_type": "application/pdf", "size": 100}).json()
    _post_to_s3(s3, answer, SAMPLES["application/pdf"])

    assert listing("bob").json()["items"] == []
    assert_problem(delete(answer["id"], user="bob"), 404)
    assert keys(s3) == [answer["key"]]


def _pending(s3: Any, data: bytes, name: str, user: str = "alice") -> str:
    """A file a presigned POST put in `user`'s incoming/ prefix: its key."""
    from apikit.repositories.uploads import new_id

    key = f"incoming/{user}/{new_id()}/{name}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="application/octet-stream")
    return key


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the functions log, as Lambda would ship it (the Powertools handler holds the stdout of import time)."""
    from apikit.logging import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def test_a_deleted_presigned_upload_is_logged_with_its_key(s3, logs):
    key = _pending(s3, EXE, "cat.png")

    assert listing().json()["items"] == []

    records = [json.loads(line) for line in logs.getvalue().splitlines()]
    deleted = [record for record in records if record["message"] == "presigned upload deleted: not an allowed type"]
    assert [(record["level"], record["key"]) for record in deleted] == [("WARNING", key)]


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"x", "text/plain"),  # one byte is a file to check
        (b"", None),  # nothing to check (S3 answers a range GET of an empty object 416): deleted
        (b"a" * 8192 + b"\x00" + b"b" * 7, "text/plain"),  # judged by its first 8 KiB only
        (b"a" * 8191 + b"\x00", None),  # the 8,192nd byte is one of the first 8 KiB
        (b"a" * 8191 + b"\xc3", None),  # a file of 8 KiB is read whole: cut inside a character, not text
    ],
    ids=["one-byte", "empty", "nul-after-8-kib", "nul-as-8192nd-byte", "8-kib-cut-inside-a-character"],
)
def test_a_presigned_upload_is_judged_by_its_first_8_kib(s3, data, media_type):
    key = _pending(s3, data, "notes.txt")

    result = listing()

    assert result.status == 200, result.body
    assert [item["content_type"] for item in result.json()["items"]] == ([media_type] if media_type else [])
    assert keys(s3, "incoming/") == []
    assert keys(s3) == ([key.replace("incoming/", "uploads/", 1)] if media_type else [])


def test_a_claimed_upload_keeps_the_time_it_was_uploaded(s3):
    key = _pending(s3, PNG, "a.png")
    uploaded = s3.list_objects_v2(Bucket=BUCKET, Prefix="incoming/")["Contents"][0]["LastModified"]

    (item,) = listing().json()["items"]

    assert item["uploaded_at"] == uploaded.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    claimed = s3.head_object(Bucket=BUCKET, Key=key.replace("incoming/", "uploads/", 1))
    assert claimed["Metadata"] == {"uploaded-at": item["uploaded_at"]}


def test_a_list_claims_20_presigned_uploads_and_the_next_list_the_rest(s3):
    for n in range(21):
        _pending(s3, PNG, f"{n}.png")

    assert listing(limit="1").status == 200

    assert (len(keys(s3, "uploads/")), len(keys(s3, "incoming/"))) == (20, 1)
    assert listing(limit="1").status == 200
    assert (len(keys(s3, "uploads/")), len(keys(s3, "incoming/"))) == (21, 0)


def test_an_upload_claimed_by_another_list_before_it_is_read_does_not_stop_the_claim_of_the_others(s3, monkeypatch):
    from apikit.repositories import uploads as repository

    first, second = _pending(s3, PNG, "a.png"), _pending(s3, PNG, "b.png")
    client = repository.s3()
    get = client.get_object
    taken: list[str] = []

    def the_other_list_was_first(**request: Any) -> Any:
        if not taken:
            taken.append(request["Key"])
            client.delete_object(Bucket=BUCKET, Key=request["Key"])  # NoSuchKey for the GET below
        return get(**request)

    monkeypatch.setattr(client, "get_object", the_other_list_was_first)
    result = listing()

    assert result.status == 200, result.body
    (left,) = {first, second} - set(taken)
    assert [item["key"] for item in result.json()["items"]] == [left.replace("incoming/", "uploads/", 1)]


def test_a_file_sent_again_before_its_copy_does_not_stop_the_claim_of_the_others(s3, monkeypatch):
    from botocore.exceptions import ClientError

    from apikit.repositories import uploads as repository

    first, second = _pending(s3, PNG, "a.png"), _pending(s3, PNG, "b.png")
    client = repository.s3()
    copy = client.copy_object
    refused: list[str] = []

    def replaced_since_checked_once(**request: Any) -> Any:
        if not refused:
            refused.append(request["CopySource"]["Key"])
            raise ClientError({"Error": {"Code": "PreconditionFailed", "Message": "pre-conditions"}}, "CopyObject")
        return copy(**request)

    monkeypatch.setattr(client, "copy_object", replaced_since_checked_once)
    result = listing()

    assert result.status == 200, result.body
    (left,) = {first, second} - set(refused)
    assert [item["key"] for item in result.json()["items"]] == [left.replace("incoming/", "uploads/", 1)]
    assert keys(s3, "incoming/") == refused


def test_an_unclaimed_presigned_upload_can_be_deleted_by_its_owner(s3):
    answer = presign({"filename": "a.pdf", "content_type": "application/pdf", "size": 100}).json()
    _post_to_s3(s3, answer, SAMPLES["application/pdf"])

    assert delete(answer["id"]).status == 204
    assert keys(s3) == []


# --- the template ---------------------------------------------------------------------------------------------


def test_the_bucket_is_private_encrypted_tls_only_and_expires_unclaimed_uploads():
    from devserver.template import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    bucket = resources["UploadsBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["ExpireUnclaimedPresignedUploads"]["Prefix"] == "incoming/"
    assert rules["ExpireUnclaimedPresignedUploads"]["ExpirationInDays"] == 1
    assert "uploads/" not in json.dumps(bucket["LifecycleConfiguration"])  # a claimed file is never expired
    # The API's browser origins, and with EnableCdn CloudFront's too (presigned POSTs and downloads go to S3).
    condition, with_cdn, without_cdn = bucket["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"]["Fn::If"]
    assert (condition, without_cdn) == ("UseCdn", {"Ref": "CorsAllowedOrigins"})
    assert "https://${Cdn.DomainName}" in json.dumps(with_cdn)
    (statement,) = resources["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


# --- the sample events ------------------------------------------------------------------------------------------


def _sample(name: str) -> dict[str, Any]:
    event = json.loads((ROOT / "events" / name).read_text())
    assert event["headers"]["authorization"] == "Bearer REPLACE_WITH_ACCESS_TOKEN"
    event["headers"]["authorization"] = bearer("user-123")
    return event


def test_the_sample_events_give_their_documented_statuses(s3):
    created = invoke("uploads_create", _sample("uploads_create/post.json"))
    assert created.status == 201, created.body
    assert created.json()["content_type"] == "image/png"
    assert created.json()["name"] == "pixel.png"
    assert invoke("uploads_presign", _sample("uploads_presign/post.json")).status == 200
    listed = invoke("uploads_list", _sample("uploads_list/get.json"))
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]
    sample_delete = _sample("uploads_delete/delete.json")
    assert_problem(invoke("uploads_delete", sample_delete), 404)  # the sample's id names no file yet
    s3.put_object(Bucket=BUCKET, Key=f"uploads/user-123/{sample_delete['pathParameters']['id']}/a.png", Body=PNG)
    assert invoke("uploads_delete", sample_delete).status == 204


@pytest.mark.parametrize(
    "name",
    ["e\u200b\u0301.txt", "a\u202e\u0308b.txt", "\u1100\u200b\u1161.txt", "résumé.txt", "../x\u0000\u0301y.txt"],
)
def test_a_safe_name_is_already_safe(name):
    """Idempotent, so a stored name always passes the check a cursor naming it gets (dropping a zero-width
    space can leave an e beside its accent: the result is composed again)."""
    from apikit.files import safe_filename

    once = safe_filename(name)

    assert safe_filename(once) == once


def test_a_page_boundary_on_a_name_that_needed_composing_again_still_pages(s3):
    upload(b"older\n", "older.txt", "text/plain")
    upload(b"newer\n", "e\u200b\u0301.txt", "text/plain")

    first = listing(limit="1").json()
    second = listing(limit="1", cursor=first["next_cursor"])

    assert first["items"][0]["name"] == "é.txt"
    assert second.status == 200, second.body
    assert [item["name"] for item in second.json()["items"]] == ["older.txt"]


@pytest.mark.parametrize("milliseconds", [0, 1, 1_796_035_800_000, (1 << 48) - 2])
def test_an_upload_id_is_a_uuidv8_whose_first_48_bits_count_down_the_milliseconds(milliseconds):
    """Newest first in a key's order: the id starts with 2**48 - 1 - ms, then version 8 and RFC 9562's variant."""
    import uuid

    from apikit.repositories.uploads import new_id

    ids = {uuid.UUID(new_id(milliseconds)) for _ in range(8)}

    assert len(ids) == 8  # the other 74 bits are random
    for value in ids:
        assert (value.version, value.variant) == (8, uuid.RFC_4122)
        assert value.int >> 80 == (1 << 48) - 1 - milliseconds
    if milliseconds == 0:
        assert all(str(value).startswith("ffffffff-ffff-8") for value in ids)


def test_an_upload_id_made_now_counts_down_from_the_current_millisecond():
    import time
    import uuid

    from apikit.repositories.uploads import new_id

    before = int(time.time() * 1000)
    value = uuid.UUID(new_id())
    after = int(time.time() * 1000)

    assert (1 << 48) - 1 - after <= value.int >> 80 <= (1 << 48) - 1 - before
