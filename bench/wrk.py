"""Load with wrk (2 threads, 8 connections by default) and what a form needs to be posted by it.

Every script counts the answers by status in a `response` hook and reports them from `done`,
so that a run answering errors (a 403 for a bad CSRF token, a 429 from a rate limit) is seen.
"""

import re
import secrets
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html import unescape as html_unescape

_WRK_SCRIPT = """
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  run = args[1] or "0"
  counter = 0
  ok = 0
  bad = 0
  first_bad = 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if first_bad == 0 then first_bad = status end
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total, first = 0, 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
    if first == 0 then first = t:get("first_bad") end
  end
  io.write(string.format("BENCH ok=%d bad=%d first_bad=%d\\n", ok_total, bad_total, first))
end
"""

_GET_REQUEST = """
request = function()
  return wrk.format("GET", "{path}")
end
"""

_SIGNUP_REQUEST = """
local headers = {{
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Cookie"] = "csrftoken={cookie}",
}}
local form = "{form}"

request = function()
  counter = counter + 1
  local body = form .. "&email=b" .. run .. "-" .. tid .. "-" .. counter .. "%40signup.example"
  return wrk.format("POST", "{path}", headers, body)
end
"""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    requests: int
    seconds: float
    ok: int
    bad: int
    first_bad: int
    socket_errors: str
    latency: str

    def __add__(self, other: "WrkResult") -> "WrkResult":
        """Two runs of the same load as one: their requests over their time."""
        requests, seconds = self.requests + other.requests, self.seconds + other.seconds
        return WrkResult(
            rps=requests / seconds,
            requests=requests,
            seconds=seconds,
            ok=self.ok + other.ok,
            bad=self.bad + other.bad,
            first_bad=self.first_bad or other.first_bad,
            socket_errors="; ".join(e for e in (self.socket_errors, other.socket_errors) if e),
            latency=f"{self.latency}, {other.latency}",
        )

    def describe(self) -> str:
        text = (
            f"{self.rps:9.1f} req/s  ({self.requests} requests in {self.seconds:.2f}s, "
            f"latency avg {self.latency}, non-2xx {self.bad}"
        )
        if self.bad:
            text += f", first status {self.first_bad}"
        if self.socket_errors:
            text += f", socket errors: {self.socket_errors}"
        return text + ")"


def wrk_get_script(path: str) -> str:
    return _WRK_SCRIPT + _GET_REQUEST.format(path=path)


def wrk_signup_script(path: str, *, cookie: str, fields: dict[str, str]) -> str:
    """POSTs of a sign-up form with `fields` (URL-encoded once), a different address each time
    (the run's own tag, the thread and a counter): the limit per address is never reached."""
    form = urllib.parse.urlencode(fields)
    return _WRK_SCRIPT + _SIGNUP_REQUEST.format(path=path, cookie=cookie, form=form)


WRK_CONNECTIONS = 8


def run_wrk(
    base_url: str, script: str, *, seconds: float, connections: int = WRK_CONNECTIONS
) -> WrkResult:
    """wrk with 2 threads and `connections` connections for `seconds`; the script's `done`
    hook reports the 2xx and non-2xx answers."""
    with tempfile.NamedTemporaryFile("w", prefix="bench-wrk-", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        completed = subprocess.run(
            [
                "wrk",
                "--threads",
                "2",
                "--connections",
                str(connections),
                "--duration",
                f"{seconds:.0f}s",
                "--timeout",
                "10s",
                "--script",
                lua.name,
                base_url,
                "--",
                secrets.token_hex(4),  # the run's tag, for scripts that need unique values
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    return _parse_wrk(completed.stdout + completed.stderr, completed.returncode)


def _parse_wrk(output: str, returncode: int) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    counts = re.search(r"BENCH ok=(\d+) bad=(\d+) first_bad=(\d+)", output)
    if returncode != 0 or not (rps and total and counts):
        raise RuntimeError(f"wrk failed (exit {returncode}):\n{output}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[total[3]]
    errors = re.search(r"Socket errors: (.*)", output)
    latency = re.search(r"Latency\s+(\S+)", output)
    return WrkResult(
        rps=float(rps[1]),
        requests=int(total[1]),
        seconds=float(total[2]) * scale,
        ok=int(counts[1]),
        bad=int(counts[2]),
        first_bad=int(counts[3]),
        socket_errors=errors[1].strip() if errors else "",
        latency=latency[1] if latency else "?",
    )


def form_tokens(url: str) -> tuple[str, dict[str, str]]:
    """GET a form once: its csrftoken cookie and its hidden fields (the masked CSRF token
    that goes with the cookie, and any other)."""
    with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310
        return form_tokens_in(page.headers.get_all("Set-Cookie") or [], page.read().decode())


def form_tokens_in(set_cookies: list[str], html: str) -> tuple[str, dict[str, str]]:
    """The csrftoken cookie among a page's Set-Cookie values and the page's hidden fields."""
    cookie = next((m[1] for c in set_cookies if (m := re.match(r"\s*csrftoken=([^;]+)", c))), None)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    if cookie is None or "csrfmiddlewaretoken" not in hidden:
        raise RuntimeError("no CSRF cookie or token in the form's page")
    return cookie, {name: html_unescape(value) for name, value in hidden.items()}


def post_form(url: str, *, cookie: str, data: dict[str, str]) -> tuple[int, str]:
    """One POST the way wrk sends it (for a pre-flight check); returns status and body."""
    request = urllib.request.Request(  # noqa: S310
        url,
        data=urllib.parse.urlencode(data).encode(),
        headers={"Cookie": f"csrftoken={cookie}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
