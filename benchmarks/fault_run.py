"""Fault run: the gateway under upstream faults and a PostgreSQL restart; is every request logged?

    python benchmarks/fault_run.py [--requests 20000] [--concurrency 64] [--model DIR]

What the issue's Done-when asks for, bounded and on loopback only: a private PostgreSQL
(tests/support/pg_instance.py, never the shared server) holds the request log of a gateway
started exactly as ``tierroute serve`` starts it (a subprocess, spool on by default). The fake
upstream (tests/fakes/upstream.py) answers each model's requests from a seeded script drawn from
``--mix`` (default: 10 % 429, 10 % 5xx, 2 % dropped connections, 1 % streams cut mid-way) and
one model (``--revoked``) answers 401 to everything. Halfway through, PostgreSQL is killed
(``pg_ctl stop -m immediate``) and started again ``--outage-s`` later. Printed at the end: the
share answered 200, requests vs log rows (missing, duplicated), streamed rows at $0 without an
estimated flag, the log writer's counters and the server's RSS at start, peak and end.

The mix is data: each name is a row of ``REPLY_KINDS`` or, failing that, a no-argument
classmethod of the fake's ``Reply`` (so reply kinds the fake learns later can be used by name,
e.g. ``--mix rate_limited=0.1,in_band_error=0.01`` once ``Reply.in_band_error`` exists).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.upstream import FakeUpstream, Reply  # noqa: E402
from tests.support.pg_instance import PrivatePostgres, available, free_port  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from gateway_overhead import wait_ready  # noqa: E402

KEY = "gw-fault-run-key"
ADMIN_KEY = "gw-fault-run-admin"  # /metrics shows spend: the admin key reads it
PROVIDER_KEY_ENV = "TIERROUTE_FAULT_RUN_PROVIDER_KEY"
MODELS = ("small", "medium", "large", "coder")
CHAINS = {
    "simple_faq": ("small", "medium", "large"),
    "moderate_conv": ("medium", "large", "small"),
    "complex_reasoning": ("large", "medium", "coder"),
    "code_gen": ("coder", "large", "medium"),
}
QUESTIONS = (
    "Where is my order? It was supposed to arrive yesterday.",
    "Can you recommend a good book for a long flight?",
    "Prove that there are infinitely many primes, step by step.",
    "Write a Python function that merges two sorted lists, with tests.",
)
DEFAULT_MIX = "rate_limited=0.10,server_error=0.10,dropped=0.02,stream_cut=0.01"

# A reply kind: a function of the answer delay (seconds) to one immutable Reply, shared by
# every scripted request of that kind (20,000 requests need no 20,000 objects).
REPLY_KINDS: dict[str, Callable[[float], Reply]] = {
    "ok": lambda delay: Reply(delay=delay),
    "rate_limited": lambda delay: Reply.error(429, "rate limited", retry_after=0, delay=delay),
    "server_error": lambda delay: Reply.error(503, "overloaded", delay=delay),
    "dropped": lambda delay: Reply.dropped(delay=delay),
    "stream_cut": lambda delay: Reply(delay=delay, break_after=2),
    "revoked": lambda delay: Reply.error(401, "Incorrect API key provided", delay=delay),
}


def reply_of(kind: str, delay: float) -> Reply:
    """The reply for ``kind``: a ``REPLY_KINDS`` row, else a classmethod of ``Reply``."""
    if kind in REPLY_KINDS:
        return REPLY_KINDS[kind](delay)
    factory = getattr(Reply, kind, None)
    if not callable(factory):
        raise SystemExit(f"--mix: unknown reply kind {kind!r} (known: {', '.join(REPLY_KINDS)})")
    reply = factory()
    if not isinstance(reply, Reply):
        raise SystemExit(f"--mix: Reply.{kind}() is not a Reply")
    return reply


def parse_mix(text: str) -> dict[str, float]:
    """``"a=0.1,b=0.02"`` -> shares; the rest of the replies are ``ok``."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, share = part.partition("=")
        mix[name.strip()] = float(share)
    if sum(mix.values()) >= 1.0:
        raise SystemExit("--mix: the shares must add up to less than 1")
    return mix


def script_upstream(fake: FakeUpstream, args: argparse.Namespace, mix: dict[str, float]) -> None:
    """Queue, per model, a seeded sequence of replies drawn from ``mix`` (then: the default)."""
    rng = random.Random(args.seed)
    delay = args.delay_ms / 1000.0
    kinds = ["ok", *mix]
    weights = [1.0 - sum(mix.values()), *mix.values()]
    replies = {kind: reply_of(kind, delay) for kind in [*kinds, "revoked"]}
    # Failover and retries send a model at most this many attempts per request.
    per_model = args.requests * 2
    for model in MODELS:
        if model == args.revoked:
            fake.script(model, *[replies["revoked"]] * per_model)
        else:
            drawn = rng.choices(kinds, weights, k=per_model)
            fake.script(model, *[replies[kind] for kind in drawn])


def gateway_config(directory: Path, upstream: str, log_url: str) -> Path:
    tiers = "\n".join(
        f"[tiers.{tier}]\nmodels = [{', '.join(f'{chr(34)}fake:{m}{chr(34)}' for m in chain)}]"
        for tier, chain in CHAINS.items()
    )
    prices = "\n".join(f'[prices."fake:{m}"]\ninput = 1.0\noutput = 4.0' for m in MODELS)
    text = textwrap.dedent(
        f"""
        [providers.fake]
        base_url = "{upstream}"
        api_key_env = "{PROVIDER_KEY_ENV}"
        connect_timeout = 2.0
        read_timeout = 10.0

        [retry]
        attempts_per_model = 3  # the shipped default
        backoff_base = 0.01
        backoff_cap = 0.05
        max_retry_after = 1.0
        breaker_failures = 8
        breaker_cooldown = 1.0

        [log]
        url = "{log_url}"
        spool_dir = "{directory / "spool"}"
        """
    )
    path = directory / "fault-run.toml"
    path.write_text(text + "\n" + tiers + "\n" + prices + "\n", encoding="utf-8")
    return path


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    client_errors: Counter[str] = field(default_factory=Counter)
    stream_errors: int = 0  # 200 streams that ended with an error event
    ids: list[str] = field(default_factory=list)
    done: int = 0


async def one_request(
    session: aiohttp.ClientSession, url: str, index: int, stream: bool, tally: Tally
) -> None:
    body = {
        "model": "auto",
        "messages": [{"role": "user", "content": f"{QUESTIONS[index % len(QUESTIONS)]} #{index}"}],
        "stream": stream,
    }
    try:
        async with session.post(url, json=body) as response:
            raw = await response.read()
            tally.statuses[response.status] += 1
            request_id = response.headers.get("x-request-id")
            if request_id:
                tally.ids.append(request_id)
            if stream and response.status == 200 and b'data: {"error"' in raw:
                tally.stream_errors += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.client_errors[type(exc).__name__] += 1
    finally:
        tally.done += 1


async def send_load(args: argparse.Namespace, url: str, tally: Tally) -> None:
    rng = random.Random(args.seed + 1)
    plan = [rng.random() < args.stream_share for _ in range(args.requests)]
    next_index = iter(range(args.requests))
    timeout = aiohttp.ClientTimeout(total=60)
    headers = {"Authorization": f"Bearer {KEY}"}
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, headers=headers, connector=connector) as s:

        async def worker() -> None:
            for index in next_index:
                await one_request(s, url, index, plan[index], tally)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))


async def restart_midway(pg: PrivatePostgres, args: argparse.Namespace, tally: Tally) -> float:
    """Kill PostgreSQL once half the requests are done, start it ``outage_s`` later."""
    while tally.done < args.requests // 2:
        await asyncio.sleep(0.05)
    killed_at = time.monotonic()
    await asyncio.to_thread(pg.kill)
    await asyncio.sleep(args.outage_s)
    await asyncio.to_thread(pg.start)
    return time.monotonic() - killed_at


class RssSampler(threading.Thread):
    """The gateway's resident memory (MiB), sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.start_mib = self.peak_mib = self.rss()
        self.stopped = threading.Event()

    def rss(self) -> float:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            self.peak_mib = max(self.peak_mib, self.rss())


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


def log_rows(log_url: str) -> tuple[Counter[str], int, int, str]:
    """(rows per request id, streamed rows, answered streamed rows at $0 unflagged, note)."""
    from sqlalchemy import inspect, text

    from tierroute.store import open_engine

    engine = open_engine(log_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("requests")}
        flagged = "cost_estimated" in columns
        unflagged = "AND (cost_estimated IS NULL OR NOT cost_estimated)" if flagged else ""
        with engine.connect() as conn:
            ids = Counter(
                str(r) for r in conn.execute(text("SELECT request_id FROM requests")).scalars()
            )
            streamed = conn.execute(text("SELECT count(*) FROM requests WHERE stream")).scalar_one()
            # A stream no provider answered (model NULL: every attempt failed) rightly costs $0.
            zero = conn.execute(
                text(
                    "SELECT count(*) FROM requests WHERE stream AND model IS NOT NULL "
                    f"AND cost_usd = 0 {unflagged}"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    note = "" if flagged else " (no cost_estimated column in this version: every $0 stream counts)"
    return ids, int(streamed), int(zero), note


def champion() -> Path:
    from tierroute.classifier.bootstrap import ensure_champion
    from tierroute.config import get_settings

    settings = get_settings()
    return ensure_champion(settings.models_dir, settings.data_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--mix", default=DEFAULT_MIX, help=f"reply kinds and shares ({DEFAULT_MIX})"
    )
    parser.add_argument(
        "--revoked", default="coder", help="model answering 401 to everything ('none': no model)"
    )
    parser.add_argument("--stream-share", type=float, default=0.3)
    parser.add_argument("--delay-ms", type=float, default=5.0, help="upstream answer delay")
    parser.add_argument("--outage-s", type=float, default=3.0, help="PostgreSQL down this long")
    parser.add_argument("--timeout", type=float, default=1800.0, help="bound on the whole run (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", type=Path, help="model dir or models root (default: champion)")
    args = parser.parse_args()
    mix = parse_mix(args.mix)
    reason = available()
    if reason is not None:
        raise SystemExit(f"cannot start a private PostgreSQL: {reason}")
    model = (args.model or champion()).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="tierroute-fault-run-"))
    try:
        with PrivatePostgres() as pg, FakeUpstream(record=False).running() as fake:
            script_upstream(fake, args, mix)
            log_url = pg.create_database("tierroute_fault_run")
            config = gateway_config(workdir, fake.base_url, log_url)
            port = free_port()
            env = {
                **os.environ,
                "TIERROUTE_API_KEYS": KEY,
                "TIERROUTE_ADMIN_KEY": ADMIN_KEY,
                PROVIDER_KEY_ENV: "sk-fault-run",
            }
            env.pop("TIERROUTE_LOG_SECRET", None)
            gateway = subprocess.Popen(
                [sys.executable, "-c", "from tierroute.cli import main; main()", "serve",
                 "--config", str(config), "--model", str(model), "--port", str(port)],
                env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                base = f"http://127.0.0.1:{port}"
                wait_ready(base + "/readyz", gateway)
                rss = RssSampler(gateway.pid)
                rss.start()
                tally = Tally()

                async def run() -> float:
                    outage = asyncio.create_task(restart_midway(pg, args, tally))
                    await send_load(args, base + "/v1/chat/completions", tally)
                    return await outage

                load_started = time.monotonic()
                down_s = asyncio.run(asyncio.wait_for(run(), args.timeout))
                load_s = time.monotonic() - load_started
                spool = workdir / "spool"
                deadline = time.monotonic() + 120
                while any(spool.glob("*.jsonl")) and time.monotonic() < deadline:
                    if not any(p.name != "dead-letter.jsonl" for p in spool.glob("*.jsonl")):
                        break
                    time.sleep(0.5)
                request = urllib.request.Request(
                    base + "/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    metrics = response.read().decode()
                end_mib = rss.rss()
                rss.stopped.set()
            finally:
                gateway.send_signal(signal.SIGINT)
                try:
                    gateway.wait(60)
                except subprocess.TimeoutExpired:
                    gateway.kill()
            logged, streamed, zero, note = log_rows(log_url)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, tally, logged, streamed, zero, note, metrics, rss, end_mib, down_s, load_s)


def report(
    args: argparse.Namespace,
    tally: Tally,
    logged: Counter[str],
    streamed: int,
    zero: int,
    note: str,
    metrics: str,
    rss: RssSampler,
    end_mib: float,
    down_s: float,
    load_s: float,
) -> None:
    total = args.requests
    ok = tally.statuses.get(200, 0)
    others = {s: n for s, n in sorted(tally.statuses.items()) if s != 200}
    ids = Counter(tally.ids)
    missing = sum(1 for rid in ids if rid not in logged)
    duplicated = sum(1 for rid, n in logged.items() if n > 1)
    extra = sum(1 for rid in logged if rid not in ids)
    print(
        f"{total:,} requests at concurrency {args.concurrency}, mix {args.mix}, "
        f"{args.revoked} answers 401, {args.stream_share:.0%} streamed; "
        f"PostgreSQL down {down_s:.1f} s mid-run; load took {load_s:.1f} s "
        f"({total / load_s:,.0f} requests/s)"
    )
    print(
        f"answered 200: {ok:,} ({ok / total:.3%}); other statuses {others or 'none'}; "
        f"client errors {dict(tally.client_errors) or 'none'}; "
        f"200 streams ending in an error event: {tally.stream_errors}"
    )
    print(
        f"log: {sum(logged.values()):,} rows for {len(ids):,} request ids answered: "
        f"missing {missing}, duplicated {duplicated}, rows without an answered id {extra}"
    )
    print(
        f"streamed rows a provider answered, at $0 without an estimated flag: {zero} of "
        f"{streamed} streamed rows{note}"
    )
    counters = ", ".join(
        f"{name} {metric(metrics, f'tierroute_log_rows_{name}_total'):.0f}"
        for name in ("written", "spooled", "replayed", "dead_lettered", "dropped")
    )
    print(f"log writer: {counters}")
    print(f"server RSS MiB: start {rss.start_mib:.0f}, peak {rss.peak_mib:.0f}, end {end_mib:.0f}")
    if missing or duplicated:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
