"""`--static-dir`: a front end's built files at /, next to the API, from one origin (as `sam local start-api -s`)."""

from __future__ import annotations

import socket

import pytest
import requests

from tests.integration.conftest import DevServer

pytestmark = pytest.mark.devserver_only(reason="dev servers of its own, serving a front end with --static-dir")


@pytest.fixture
def full_stack(project, start_server) -> DevServer:
    """The test project with a built front end in dist/, and a $default route (the catch-all) in the template."""
    dist = project / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script src="/assets/app.js"></script><h1>Posts</h1>')
    (dist / "assets" / "app.js").write_text("fetch('/hello').then((r) => r.text()).then(console.log)")
    (dist / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (dist / "hello").write_text("a file named like a route")
    (dist / "about.html").write_text("<h1>About</h1>")  # Next.js's static export writes /about as about.html
    (project / "secret.txt").write_text("outside the static directory")
    (dist / "escape").symlink_to(project / "secret.txt")
    template = project / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "      Events:\n        Any:", "      Events:\n        Fallback:\n          Type: HttpApi\n        Any:", 1
        )
    )
    return start_server(template, "--static-dir", "dist")


def raw_get(server: DevServer, target: str) -> bytes:
    """The request target exactly as given (requests would normalise ../ away)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(f"GET {target} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    return data


def test_a_front_ends_files_are_served_at_the_root_next_to_the_api(full_stack):
    page = full_stack.get("/")
    script = full_stack.get("/assets/app.js")
    image = full_stack.get("/assets/logo.png")
    about = full_stack.get("/about")
    head = requests.head(full_stack.url + "/index.html", timeout=10)

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h1>Posts</h1>" in page.text
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "fetch('/hello')" in script.text
    assert image.headers["Content-Type"] == "image/png"
    assert image.content.endswith(bytes(range(256)))
    assert (head.status_code, head.content) == (200, b"")
    assert about.text == "<h1>About</h1>"
    assert head.headers["Content-Length"] == str(len(page.content))
    assert "dist" in full_stack.output()


def test_routes_win_over_files_and_files_over_the_default_route(full_stack):
    routed = full_stack.get("/hello")  # a route, and a file of that name: the route answers
    missing = full_stack.get("/assets/missing.js")  # no file: the $default route's function answers
    posted = full_stack.request("POST", "/index.html")  # files are for GET and HEAD only

    assert routed.text == "v1"
    assert missing.json()["event"]["routeKey"] == "$default"
    assert posted.json()["event"]["requestContext"]["http"]["method"] == "POST"


@pytest.mark.parametrize("target", ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/escape"])
def test_nothing_outside_the_directory_is_served(full_stack, target):
    answer = raw_get(full_stack, target)

    assert b"outside the static directory" not in answer
