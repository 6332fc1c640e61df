"""File uploads through the real dev server: multipart bodies built by an HTTP client (requests), download links and
presigned POSTs used against the dev server's embedded S3, as curl or a browser on this machine would use them."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest
import requests

from tests.integration.conftest import DevServer, token

pytestmark = pytest.mark.devserver_only(reason="the dev server's embedded S3 and tokens from `devserver token`")

MIB = 1024 * 1024


def png() -> bytes:
    """A real 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def alice() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('alice-uploads')}"}


@pytest.fixture(scope="module")
def bob() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('bob-uploads')}"}


def uploads(api: DevServer, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = api.get("/api/uploads", headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_multipart_upload_is_stored_and_its_link_downloads_it(api, alice):
    image = png()

    created = api.request(
        "POST", "/api/uploads", headers=alice, files={"file": ("Ünïcødé pixel.png", image, "text/plain")}
    )

    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == "application/json"
    body = created.json()
    assert (body["name"], body["size"], body["content_type"]) == ("Ünïcødé pixel.png", len(image), "image/png")
    # The link points at the embedded S3 on this machine, and works without any credentials of ours.
    assert body["url"].startswith(api.aws_endpoint + "/")
    download = requests.get(body["url"], timeout=10)
    assert download.status_code == 200
    assert download.content == image
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert body["id"] in [item["id"] for item in uploads(api, alice)]


def test_a_disallowed_file_is_a_415_through_the_gateway(api, alice):
    answer = api.request(
        "POST", "/api/uploads", headers=alice, files={"file": ("cat.png", b"MZ\x90\x00" * 64, "image/png")}
    )

    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/problem+json"


def test_four_mib_pass_and_one_byte_more_is_a_413_naming_the_presigned_route(api, alice):
    exactly = api.request(
        "POST", "/api/uploads", headers=alice, files={"file": ("a.txt", b"a" * (4 * MIB), "text/plain")}
    )
    over = api.request(
        "POST", "/api/uploads", headers=alice, files={"file": ("a.txt", b"a" * (4 * MIB + 1), "text/plain")}
    )

    assert exactly.status_code == 201, exactly.text
    assert exactly.json()["size"] == 4 * MIB
    assert over.status_code == 413
    assert over.headers["content-type"] == "application/problem+json"
    assert "POST /api/uploads/presign" in over.json()["detail"]


def test_a_body_over_10_mb_is_refused_by_the_gateway_before_any_function(api, alice):
    answer = api.request(
        "POST", "/api/uploads", headers=alice, files={"file": ("a.txt", b"a" * (11 * MIB), "text/plain")}
    )

    assert answer.status_code == 413


def test_a_truncated_multipart_body_is_a_400(api, alice):
    headers = {**alice, "Content-Type": "multipart/form-data; boundary=xyz"}
    body = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'

    answer = api.request("POST", "/api/uploads", headers=headers, data=body)

    assert answer.status_code == 400
    assert "truncated" in answer.json()["detail"]


def test_a_presigned_post_works_against_the_local_s3_and_the_next_list_claims_it(api, alice, bob):
    data = b"%PDF-1.7\n" + bytes(range(256)) * (5 * MIB // 256)  # over the direct upload's limit
    presigned = api.request(
        "POST",
        "/api/uploads/presign",
        headers=alice,
        json={"filename": "../../big report.pdf", "content_type": "application/pdf", "size": len(data)},
    )
    assert presigned.status_code == 200, presigned.text
    form = presigned.json()
    assert form["url"].startswith(api.aws_endpoint + "/")

    # As `curl -F` and a browser form send it: the fields first, then the file.
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("big report.pdf", data)}, timeout=30)

    assert posted.status_code == 204, posted.text
    assert uploads(api, bob) == []
    claimed = [item for item in uploads(api, alice) if item["id"] == form["id"]]
    assert [(item["name"], item["size"], item["content_type"]) for item in claimed] == [
        ("big report.pdf", len(data), "application/pdf")
    ]
    assert requests.get(claimed[0]["url"], timeout=30).content == data
    assert api.request("DELETE", f"/api/uploads/{form['id']}", headers=bob).status_code == 404
    assert api.request("DELETE", f"/api/uploads/{form['id']}", headers=alice).status_code == 204
    assert form["id"] not in [item["id"] for item in uploads(api, alice)]


def test_the_local_s3_lets_the_configured_origin_post_a_presigned_form_from_a_browser(api):
    bucket = f"{api.aws_endpoint}/uploadsbucket"
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = requests.options(bucket, headers={"Origin": "http://localhost:5173", **preflight}, timeout=10)
    other = requests.options(bucket, headers={"Origin": "https://evil.example", **preflight}, timeout=10)

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert other.status_code == 403  # a failed preflight: the browser sends nothing
