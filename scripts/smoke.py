"""Smoke-test a running API: `python scripts/smoke.py https://<api-id>.execute-api.<region>.amazonaws.com`.

Reads first (GET /api/health, GET /api/posts). With an access token (--token, or the TOKEN environment variable)
it also writes: POST a post, GET it, DELETE it, and GET it again expecting 404, so nothing is left behind.
Prints one line per step and exits 1 on the first unexpected status (after deleting what it created).
Standard library only: it runs wherever Python does, against the dev server or a deployed stack.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class StepFailed(Exception):
    pass


def lower_keys(items: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


class Smoke:
    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SystemExit(f"error: not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, expected: int, body: Any = None, auth: bool = False) -> Reply:
        url = urllib.parse.urljoin(self.base_url + "/", path)
        headers = {"Accept": "application/json", "User-Agent": "api-routes-smoke/1"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - http(s) only
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked above
                reply = Reply(response.status, lower_keys(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            reply = Reply(error.code, lower_keys(error.headers.items()), error.read())
        except (urllib.error.URLError, TimeoutError) as error:
            print(f"FAIL {method} {path}: {getattr(error, 'reason', error)}")
            raise StepFailed from error
        elapsed = (time.perf_counter() - started) * 1000
        request_id = reply.headers.get("x-request-id", "-")
        line = f"{method} {path} -> {reply.status} ({elapsed:.0f} ms, request id {request_id})"
        if reply.status != expected:
            print(f"FAIL {line}, expected {expected}: {reply.body[:300].decode(errors='replace')}")
            raise StepFailed
        print(f"ok   {line}")
        return reply

    def run(self) -> int:
        try:
            health = self.call("GET", "/api/health", 200)
            if health.json().get("status") != "ok":
                print(f"FAIL GET /api/health: body {health.body[:200]!r}")
                return 1
            listing = self.call("GET", "/api/posts?limit=5", 200)
            if not isinstance(listing.json().get("items"), list):
                print(f"FAIL GET /api/posts: no items list in {listing.body[:200]!r}")
                return 1
        except StepFailed:
            return 1
        if not self.token:
            print("skip write round trip: no --token or TOKEN")
            return 0
        return self.write_round_trip()

    def write_round_trip(self) -> int:
        title = f"smoke test {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
        post = {"title": title, "content": "Created and deleted by scripts/smoke.py."}
        post_path, deleted = None, False
        try:
            created = self.call("POST", "/api/posts", 201, body=post, auth=True)
            post_path = urllib.parse.urlsplit(created.headers.get("location", "")).path
            post_path = post_path or f"/api/posts/{created.json()['id']}"
            fetched = self.call("GET", post_path, 200)
            if fetched.json().get("title") != title:
                print(f"FAIL GET {post_path}: title {fetched.json().get('title')!r}, expected {title!r}")
                return 1
            self.call("DELETE", post_path, 204, auth=True)
            deleted = True
            self.call("GET", post_path, 404)
        except StepFailed:
            return 1
        finally:
            if post_path and not deleted:  # a step after the POST failed: leave nothing behind
                try:
                    self.call("DELETE", post_path, 204, auth=True)
                except StepFailed:
                    print(f"note: {post_path} may be left behind")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the API's base URL (the stack output ApiUrl, or http://127.0.0.1:3000)")
    parser.add_argument("--token", default=os.environ.get("TOKEN") or None, help="access token (default: $TOKEN)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    args = parser.parse_args(argv)
    return Smoke(args.url, args.token, args.timeout).run()


if __name__ == "__main__":
    sys.exit(main())
