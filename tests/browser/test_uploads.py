"""Uploads from a page in chromium: a form sent to POST /api/uploads with the bearer token, and a presigned POST to the
dev server's S3, both as plain HTML forms and with fetch, from the origin the template allows (CorsAllowedOrigins)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page

from tests.integration.conftest import DevServer, token

ORIGIN = "http://localhost:5173"  # the template's default CorsAllowedOrigins: the front end's address
PDF = b"%PDF-1.7\n" + b"%" * 5 * 1024 * 1024  # over the direct upload's 4 MiB


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page at the front end's origin: its HTML is served by the test (nothing listens on port 3000)."""
    # Chromium takes a page that Playwright serves for a public one, which may reach loopback addresses (the API, S3)
    # only with Local Network Access permission; a front end really served from localhost is loopback itself.
    context = browser.new_context(permissions=["local-network-access"])
    front_end = context.new_page()
    front_end.route(
        f"{ORIGIN}/**", lambda route: route.fulfill(content_type="text/html", body="<!doctype html><title>app</title>")
    )
    front_end.goto(f"{ORIGIN}/upload")
    yield front_end
    context.close()


def files(api: DevServer, user_token: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{api.url}/api/uploads", headers={"Authorization": f"Bearer {user_token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_form_sent_with_fetch_and_the_token_uploads_a_file(api, page, tmp_path):
    user_token = token("browser-form")
    photo = tmp_path / "Фото.txt"
    photo.write_text("Hello from a browser form\n")
    page.set_content('<form id="f"><input type="file" name="file"><input name="caption" value="ignored"></form>')
    page.set_input_files("input[type=file]", str(photo))

    answer = page.evaluate(
        """async ([url, token]) => {
            const res = await fetch(url, {method: "POST", headers: {Authorization: `Bearer ${token}`},
                                          body: new FormData(document.getElementById("f"))});
            return {status: res.status, body: await res.json()};
        }""",
        [f"{api.url}/api/uploads", user_token],
    )

    assert answer["status"] == 201, answer
    assert (answer["body"]["name"], answer["body"]["content_type"]) == ("Фото.txt", "text/plain")
    assert [item["name"] for item in files(api, user_token)] == ["Фото.txt"]


def presign(api: DevServer, user_token: str, filename: str) -> dict[str, Any]:
    answer = requests.post(
        f"{api.url}/api/uploads/presign",
        headers={"Authorization": f"Bearer {user_token}"},
        json={"filename": filename, "content_type": "application/pdf", "size": len(PDF)},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    form: dict[str, Any] = answer.json()
    return form


def test_a_plain_html_form_posts_a_large_file_to_the_presigned_url(api, page, tmp_path):
    user_token = token("browser-presigned-form")
    form = presign(api, user_token, "scan.pdf")
    document = tmp_path / "scan.pdf"
    document.write_bytes(PDF)
    hidden = "".join(f'<input type="hidden" name="{name}" value="{value}">' for name, value in form["fields"].items())
    page.set_content(
        f'<form method="post" enctype="multipart/form-data" action="{form["url"]}">{hidden}'
        '<input type="file" name="file"><button>Upload</button></form>'
    )
    page.set_input_files("input[type=file]", str(document))

    with page.expect_response(form["url"]) as sent:
        page.click("button")

    assert sent.value.status == 204
    assert [(item["name"], item["size"]) for item in files(api, user_token)] == [("scan.pdf", len(PDF))]


def test_fetch_posts_a_presigned_form_across_origins_and_reads_s3s_answer(api, page, tmp_path):
    user_token = token("browser-presigned-fetch")
    form = presign(api, user_token, "report.pdf")
    page.set_content('<input type="file">')
    document = tmp_path / "report.pdf"
    document.write_bytes(PDF)
    page.set_input_files("input", str(document))

    status = page.evaluate(
        """async ([url, fields]) => {
            const form = new FormData();
            for (const [name, value] of Object.entries(fields)) form.append(name, value);
            form.append("file", document.querySelector("input").files[0]);
            return (await fetch(url, {method: "POST", body: form})).status;
        }""",
        [form["url"], form["fields"]],
    )

    assert status == 204  # readable only because the bucket's CORS allows this origin
    assert [item["name"] for item in files(api, user_token)] == ["report.pdf"]
