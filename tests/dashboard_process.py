"""A real `ccledger dashboard` process for tests, and reading its pages back."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import free_port


@contextmanager
def dashboard_process(env: dict[str, str]) -> Iterator[str]:
    """`ccledger dashboard` (in UTC) with ``env``, running until the block ends; its base URL
    once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ccledger", "dashboard", "--no-open", "--port", str(port), "--timezone", "UTC"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/api/usage?since=all", timeout=30).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


def get(url: str, **headers: str) -> tuple[int, str]:
    """The status and body of a GET."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def figures(html: str, kind: str) -> dict[str, str]:
    """The data- attributes of the view's section of class ``kind``."""
    found = re.search(rf'<section class="{kind}"([^>]*)>', html)
    assert found, html[:500]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(1)))
