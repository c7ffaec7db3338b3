#!/usr/bin/env python3
"""A fake OpenAI-compatible server for the openai backend's tests.

    python3 tests/fake_openai.py        # prints the port it listens on, then serves

It listens on 127.0.0.1 on a free port and prints that port on stdout. Each
POST .../chat/completions behaves as a marker in the user message says:

    @mode=NAME   ok (default), slow, 500, 503, 429, truncated, malformed,
                 think, length, 401, judge, judgetext, garbage
    @fails=N     fail only the first N requests with this @id, then answer ok
                 (default: always fail)
    @id=TAG      groups the requests of one test case (default: the mode)
    @sleep=S     seconds to wait before answering (slow: default 3)

Two markers make tiers (servers told apart by their base URL's path, the
URL path before /chat/completions, e.g. /small) behave differently:

    @garbage_on=PATH  answer in garbage mode when the base path is PATH, as
                 @mode says otherwise (a tier that cannot handle the text)
    @sleep_on=PATH    wait @sleep seconds only when the base path is PATH
                 (a slower, dearer tier)

    ok         200, content is a fixed JSON QA array, with usage
    slow       sleeps, then ok (longer than the client's timeout)
    500, 503   that status with an error body
    429        429 with Retry-After: 1
    truncated  Content-Length larger than the body sent, then the connection closes
    malformed  200 whose body is not JSON
    think      content is <think>...</think>, prose and a ```json fence around the array
    length     ok with finish_reason "length"
    401        401 whose body echoes the Authorization header (as some servers do)
    judge      content is a fixed LLM-judge rating, JUDGE (a JSON object)
    judgetext  content is the same rating as prose lines after a <think> block
    garbage    content is prose with neither JSON nor a score

A base URL whose path starts with /norf answers 400 "response_format is not
supported" to any request that carries response_format.

GET /stats returns the counters as JSON: requests per mode and per base path,
the most concurrent requests per base path, requests per path that carried
response_format, requests per base path and @id ("by_path_id": {path: {id:
n}}), the arrival times (monotonic seconds) per @id, the last Authorization
header and the last request body. POST /reset clears them.
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

QA = [{"question": "What does pZeroNominalPusch set?",
       "answer": "The nominal PUSCH power per resource block.", "type": "factual"}]

# The judge's rating (tests/unit/test_judge.c): the mean of 5, 4, 4, 3 out of 5 is 0.8.
JUDGE = {"reason": "Every value matches the context.", "accuracy": 5, "relevance": 4,
         "clarity": 4, "usefulness": 3}

lock = threading.Lock()


def fresh_stats():
    return {"modes": {}, "paths": {}, "concurrent_max": {}, "concurrent_now": {},
            "with_format": {}, "by_path_id": {}, "times": {}, "fails_done": {},
            "authorization": None, "last_body": None, "requests": 0}


stats = fresh_stats()


def bump(table, key, n=1):
    table[key] = table.get(key, 0) + n
    return table[key]


def marker(text, name, default=None):
    m = re.search(r"@" + name + r"=([A-Za-z0-9_.\-]+)", text)
    return m.group(1) if m else default


def path_marker(text, name, default=None):
    m = re.search(r"@" + name + r"=(/[A-Za-z0-9_.\-/]*)", text)
    return m.group(1) if m else default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with lock:
                snap = json.loads(json.dumps(stats))
            self.send_json(200, snap)
        elif self.path == "/health":
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if self.path == "/reset":
            with lock:
                stats.clear()
                stats.update(fresh_stats())
            self.send_json(200, {"ok": True})
            return
        if not self.path.endswith("/chat/completions"):
            self.send_json(404, {"error": {"message": "not found"}})
            return
        base = self.path[: -len("/chat/completions")]
        try:
            req = json.loads(raw)
            user = next((m.get("content", "") for m in req.get("messages", [])
                         if m.get("role") == "user"), "")
        except (ValueError, AttributeError):
            self.send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        mode = marker(user, "mode", "ok")
        tag = marker(user, "id", mode)
        fails = marker(user, "fails")
        if path_marker(user, "garbage_on") == base:
            mode = "garbage"
        with lock:
            stats["requests"] += 1
            bump(stats["modes"], mode)
            bump(stats["paths"], base)
            bump(stats["by_path_id"].setdefault(base, {}), tag)
            now = bump(stats["concurrent_now"], base)
            if now > stats["concurrent_max"].get(base, 0):
                stats["concurrent_max"][base] = now
            if "response_format" in req:
                bump(stats["with_format"], base)
            stats["times"].setdefault(tag, []).append(time.monotonic())
            stats["authorization"] = self.headers.get("Authorization")
            stats["last_body"] = req
            # Fail this one? (always, or the first N of this id)
            failing = fails is None or stats["fails_done"].get(tag, 0) < int(fails)
            if failing and mode in ("500", "503", "429", "truncated", "malformed", "401"):
                bump(stats["fails_done"], tag)
        try:
            self.answer(base, req, user, mode, failing)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with lock:
                stats["concurrent_now"][base] -= 1

    def answer(self, base, req, user, mode, failing):
        sleep = float(marker(user, "sleep", "3" if mode == "slow" else "0"))
        if path_marker(user, "sleep_on", base) != base:
            sleep = 0
        if sleep > 0:
            time.sleep(sleep)
        if base.startswith("/norf") and "response_format" in req:
            self.send_json(400, {"error": {"message": "response_format is not supported",
                                           "type": "invalid_request_error"}})
            return
        if failing and mode in ("500", "503"):
            self.send_json(int(mode), {"error": {"message": "server trouble " + mode}})
            return
        if failing and mode == "429":
            self.send_json(429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"})
            return
        if failing and mode == "401":
            self.send_json(401, {"error": {"message": "invalid api key: "
                                           + str(self.headers.get("Authorization"))}})
            return
        if failing and mode == "truncated":
            body = json.dumps(self.completion(json.dumps(QA), "stop")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) + 100))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if failing and mode == "malformed":
            body = b'{"choices": [{"message": {"content": "[1, 2'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        content = json.dumps(QA)
        if mode == "think":
            content = ("<think>The user wants [pairs]. {Let me think.}</think>\n"
                       "Here are the pairs:\n```json\n" + json.dumps(QA, indent=2)
                       + "\n```\nI hope [this] helps.")
        elif mode == "judge":
            content = json.dumps(JUDGE)
        elif mode == "judgetext":
            content = ("<think>Accuracy: 1/5 at first sight.</think>\n**Accuracy**: 5/5\n"
                       "**Relevance**: 4/5\n**Clarity**: 4/5\n**Usefulness**: 3/5\n"
                       "Reason: " + JUDGE["reason"])
        elif mode == "garbage":
            content = "I am sorry, but I cannot evaluate this pair."
        self.send_json(200, self.completion(content, "length" if mode == "length" else "stop"))

    @staticmethod
    def completion(content, finish):
        return {"id": "chatcmpl-fake", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "finish_reason": finish,
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
