"""A loopback stand-in of the Messages API, for driving the real Claude Code CLI offline.

It answers each ``POST /v1/messages`` from a script: a step is a ``tool_use`` of a named tool
with its input, or a text; after the script, "done". Every request body is kept, so a test can
read what Claude Code sent back, above all the ``tool_result`` blocks: what the model receives.
Each call reports 10 input and 5 output tokens.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

# What Claude Code needs to run against it, offline: no telemetry, no updates, a made-up key.
OFFLINE_ENV = {
    "ANTHROPIC_API_KEY": "sk-ant-offline-stand-in",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
}


class StandIn(ThreadingHTTPServer):
    """``with StandIn(script) as api:`` serves on 127.0.0.1; ``api.url`` is ANTHROPIC_BASE_URL."""

    daemon_threads = True

    def __init__(self, script: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.prefix = secrets.token_hex(6)  # message ids are unique across runs, as the API's are

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> StandIn:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def tool_results(self) -> list[Any]:
        """The content of every tool_result Claude Code sent, in order."""
        found = []
        for request in self.requests:
            message = request["messages"][-1]
            if isinstance(message.get("content"), list):
                found += [block["content"] for block in message["content"] if block.get("type") == "tool_result"]
        return found

    def step(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.requests.append(body)
            number = len(self.requests)
            return {"number": number, **(self.script[number - 1] if number <= len(self.script) else {"text": "done"})}


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._json({})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
            self._json({"input_tokens": 10})
            return
        step = self.server.step(body)
        if "tool" in step:
            block = {
                "type": "tool_use",
                "id": f"toolu_stand_in_{step['number']:03d}",
                "name": step["tool"],
                "input": {},
            }
            delta = {"type": "input_json_delta", "partial_json": json.dumps(step.get("input", {}))}
            stop = "tool_use"
        else:
            block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": step["text"]}, "end_turn"
        message = {
            "id": f"msg_stand_in_{self.server.prefix}_{step['number']:03d}", "type": "message", "role": "assistant",
            "model": body.get("model"), "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {**USAGE, "output_tokens": 1},
        }  # fmt: skip
        events = [
            ("message_start", {"type": "message_start", "message": message}),
            ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                               "usage": {"output_tokens": USAGE["output_tokens"]}}),
            ("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.wfile.flush()

    def _json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
