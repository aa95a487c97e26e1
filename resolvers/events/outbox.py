"""The durable outbox of rewards bound for the bandit backend (at-least-once delivery).

Rewards are written here when events are accepted, before the mutation answers; a delivery
worker (:mod:`resolvers.events.delivery`) drains it. Two stores behind one interface:

* :class:`SqliteOutbox` (default): one SQLite file in WAL mode, used from a thread. Entries
  are claimed with a lease (``next_at`` moves forward), so a process that dies mid-delivery
  leaves them to be claimed again when the lease runs out; delivered rows are kept for a
  while so a client's retry of the same event is not enqueued twice.
* :class:`RedisOutbox` (when ``PGW_EVENTS_REDIS_URL`` is set): a Redis Stream with a consumer
  group. ``XREADGROUP`` claims, ``XACK`` + ``XDEL`` completes, ``XAUTOCLAIM`` takes over
  entries a dead consumer left pending past the lease, and the dead consumer is then removed
  from the group; a ``SET NX`` per event id de-duplicates adds.

Either way an entry may be delivered more than once (a crash between the backend's 202 and
the acknowledgement); the bandit de-duplicates by ``event_id``, so the effect is exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from clients.contracts import RewardKind


@dataclass(frozen=True, slots=True)
class Reward:
    """One reward for one arm of one bandit decision, with its idempotency key.

    ``reward`` 1.0 is a click (a success), 0.0 an impression (a trial): see ``kind``.
    """

    event_id: str
    decision_id: str
    arm: str
    reward: float

    @property
    def kind(self) -> RewardKind:
        return RewardKind.CLICK if self.reward >= 0.5 else RewardKind.IMPRESSION


@dataclass(frozen=True, slots=True)
class Claimed:
    """A reward taken from the outbox for delivery; ``handle`` identifies it in the store."""

    reward: Reward
    attempts: int
    handle: str


class Outbox(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def add(self, rewards: Sequence[Reward]) -> int:
        """Store rewards not seen before (by ``event_id``); returns how many were new."""
        ...

    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        """Up to ``limit`` due rewards, hidden from other claimers for ``lease_s``."""
        ...

    async def delivered(self, entries: Sequence[Claimed]) -> None: ...

    async def retry(self, entries: Sequence[Claimed], delay_s: float, error: str) -> None:
        """Give claimed entries back, due again in ``delay_s``."""
        ...

    async def dead(self, entry: Claimed, error: str) -> None:
        """Set aside an entry that can never be delivered (the backend rejected it)."""
        ...

    async def pending(self) -> int:
        """Entries not yet delivered nor dead."""
        ...


# -- SQLite ----------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    event_id    TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL,
    arm         TEXT NOT NULL,
    reward      REAL NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     REAL NOT NULL,
    created_at  REAL NOT NULL,
    done_at     REAL,
    last_error  TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at);
"""


class SqliteOutbox:
    """The outbox in one SQLite file; every statement runs in a worker thread."""

    def __init__(self, path: Path, *, keep_done_s: float = 7 * 86400) -> None:
        self.path = path
        self.keep_done_s = keep_done_s
        self._conn: sqlite3.Connection | None = None
        # One thread owns the connection: statements run in order, and closing waits for a
        # statement still running for a caller that was cancelled (never two at once).
        self._thread: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._thread, self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=5.0, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        return conn

    async def close(self) -> None:
        conn, thread = self._conn, self._thread
        self._conn = self._thread = None
        if conn is not None and thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, conn.close)
        if thread is not None:
            thread.shutdown(wait=False)

    async def _run(self, fn: Any, *args: Any) -> Any:
        conn, thread = self._conn, self._thread
        if conn is None or thread is None:
            raise RuntimeError("the outbox is not open")
        return await asyncio.get_running_loop().run_in_executor(thread, fn, conn, *args)

    async def add(self, rewards: Sequence[Reward]) -> int:
        if not rewards:
            return 0
        return int(await self._run(_sqlite_add, list(rewards), time.time()))

    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        rows = await self._run(_sqlite_claim, limit, lease_s, time.time(), self.keep_done_s)
        return [Claimed(Reward(r[0], r[1], r[2], r[3]), attempts=r[4], handle=r[0]) for r in rows]

    async def delivered(self, entries: Sequence[Claimed]) -> None:
        ids = [(time.time(), e.handle) for e in entries]
        await self._run(
            _sqlite_many,
            "UPDATE outbox SET status='delivered', done_at=?, last_error=NULL WHERE event_id=?",
            ids,
        )

    async def retry(self, entries: Sequence[Claimed], delay_s: float, error: str) -> None:
        due = time.time() + delay_s
        await self._run(
            _sqlite_many,
            "UPDATE outbox SET attempts=attempts+1, next_at=?, last_error=? "
            "WHERE event_id=? AND status='pending'",
            [(due, error[:500], e.handle) for e in entries],
        )

    async def dead(self, entry: Claimed, error: str) -> None:
        await self._run(
            _sqlite_many,
            "UPDATE outbox SET status='dead', attempts=attempts+1, done_at=?, last_error=? "
            "WHERE event_id=?",
            [(time.time(), error[:500], entry.handle)],
        )

    async def pending(self) -> int:
        return int(await self._run(_sqlite_pending))

    async def status(self, event_id: str) -> str | None:
        """The stored status of one event (``pending``, ``delivered``, ``dead``); for tests."""
        return await self._run(_sqlite_status, event_id)  # type: ignore[no-any-return]


def _sqlite_add(conn: sqlite3.Connection, rewards: list[Reward], now: float) -> int:
    conn.execute("BEGIN IMMEDIATE")
    try:
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO outbox (event_id, decision_id, arm, reward, next_at, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [(r.event_id, r.decision_id, r.arm, r.reward, now, now) for r in rewards],
        )
        added = conn.total_changes - before
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return added


def _sqlite_claim(
    conn: sqlite3.Connection, limit: int, lease_s: float, now: float, keep_done_s: float
) -> list[tuple[str, str, str, float, int]]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows: list[tuple[str, str, str, float, int]] = conn.execute(
            "SELECT event_id, decision_id, arm, reward, attempts FROM outbox "
            "WHERE status='pending' AND next_at<=? ORDER BY next_at LIMIT ?",
            (now, limit),
        ).fetchall()
        conn.executemany(
            "UPDATE outbox SET next_at=? WHERE event_id=?", [(now + lease_s, r[0]) for r in rows]
        )
        if not rows:
            conn.execute(
                "DELETE FROM outbox WHERE status!='pending' AND done_at<?", (now - keep_done_s,)
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return rows


def _sqlite_many(conn: sqlite3.Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(sql, params)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _sqlite_pending(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM outbox WHERE status='pending'").fetchone()[0])


def _sqlite_status(conn: sqlite3.Connection, event_id: str) -> str | None:
    row = conn.execute("SELECT status FROM outbox WHERE event_id=?", (event_id,)).fetchone()
    return None if row is None else str(row[0])


# -- Redis Streams ---------------------------------------------------------------------------

# KEYS: stream, seen-prefix is ARGV[1]; ARGV[2] ttl; then (event_id, json) pairs.
_ADD_SCRIPT = """
local added = 0
for i = 3, #ARGV, 2 do
  if redis.call('SET', ARGV[1] .. ARGV[i], '1', 'NX', 'EX', ARGV[2]) then
    redis.call('XADD', KEYS[1], '*', 'r', ARGV[i + 1])
    added = added + 1
  end
end
return added
"""


class RedisOutbox:
    """The outbox as a Redis Stream read through a consumer group."""

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        group: str = "pgw-rewards",
        consumer: str,
        keep_done_s: int = 7 * 86400,
    ) -> None:
        self.url = url
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.dead_stream = f"{stream}:dead"
        self.seen_prefix = f"{stream}:seen:"
        self.keep_done_s = keep_done_s
        self._redis: Any = None
        self._add: Any = None
        self._ready = False
        # retries are not written back to Redis: the back-off is the worker's; the entries
        # stay pending for this consumer and are read again with id 0.
        self._attempts: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._next_cleanup = 0.0
        self.forgotten_consumers = 0

    async def open(self) -> None:
        """Connects lazily: a Redis that is down at start-up fails calls, not the start."""
        from clients.redis import redis_client

        self._redis = redis_client(self.url, timeout_s=2.0, connect_timeout_s=1.0)
        self._add = self._redis.register_script(_ADD_SCRIPT)
        self._ready = False

    async def _ensure_group(self) -> None:
        if self._ready:
            return
        from redis.exceptions import ResponseError

        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._ready = True

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def add(self, rewards: Sequence[Reward]) -> int:
        if not rewards:
            return 0
        await self._ensure_group()
        args: list[Any] = [self.seen_prefix, self.keep_done_s]
        for r in rewards:
            args += [r.event_id, orjson.dumps(_reward_json(r))]
        return int(await self._add(keys=[self.stream], args=args))

    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        await self._ensure_group()
        redis = self._redis
        now = time.monotonic()
        # 1. this consumer's own pending entries whose back-off has passed
        own = await redis.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=limit)
        entries = _stream_entries(own)
        due = [(i, f) for i, f in entries if self._not_before.get(i, 0.0) <= now]
        if not entries:
            # 2. entries a dead consumer left pending past the lease
            _, claimed, *_ = await redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=int(lease_s * 1000),
                start_id="0-0",
                count=limit,
            )
            due = [(_decode(i), f) for i, f in claimed if f]
            await self._forget_dead_consumers(lease_s, now)
            if not due:
                # 3. new entries
                fresh = await redis.xreadgroup(
                    self.group, self.consumer, {self.stream: ">"}, count=limit
                )
                due = _stream_entries(fresh)
        out = []
        for entry_id, fields in due[:limit]:
            data = orjson.loads(fields.get(b"r") or fields.get("r") or b"{}")
            reward = Reward(data["event_id"], data["decision_id"], data["arm"], data["reward"])
            out.append(Claimed(reward, self._attempts.get(entry_id, 0), entry_id))
        return out

    async def _forget_dead_consumers(self, lease_s: float, now: float) -> None:
        """Remove the consumers of dead processes (a restarted pod is a new consumer):
        idle past twice the lease with nothing pending (``XAUTOCLAIM`` took what they
        held). At most once per lease."""
        if now < self._next_cleanup:
            return
        self._next_cleanup = now + lease_s
        for consumer in await self._redis.xinfo_consumers(self.stream, self.group):
            name = _decode(consumer.get("name"))
            idle_ms = int(consumer.get("idle") or 0)
            if (
                name != self.consumer
                and int(consumer.get("pending") or 0) == 0
                and idle_ms > 2 * lease_s * 1000
            ):
                await self._redis.xgroup_delconsumer(self.stream, self.group, name)
                self.forgotten_consumers += 1

    async def _finish(self, entries: Sequence[Claimed]) -> None:
        ids = [e.handle for e in entries]
        if ids:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, *ids)
                pipe.xdel(self.stream, *ids)
                await pipe.execute()
        for i in ids:
            self._attempts.pop(i, None)
            self._not_before.pop(i, None)

    async def delivered(self, entries: Sequence[Claimed]) -> None:
        await self._finish(entries)

    async def retry(self, entries: Sequence[Claimed], delay_s: float, error: str) -> None:
        due = time.monotonic() + delay_s
        for e in entries:
            self._attempts[e.handle] = e.attempts + 1
            self._not_before[e.handle] = due

    async def dead(self, entry: Claimed, error: str) -> None:
        body = {**_reward_json(entry.reward), "error": error[:500]}
        await self._redis.xadd(self.dead_stream, {"r": orjson.dumps(body)})
        await self._finish([entry])

    async def pending(self) -> int:
        info = await self._redis.xinfo_groups(self.stream)
        for group in info:
            name = group.get("name")
            if name in (self.group, self.group.encode()):
                return int(group.get("pending", 0)) + int(group.get("lag") or 0)
        return 0


def _reward_json(r: Reward) -> dict[str, Any]:
    return {"event_id": r.event_id, "decision_id": r.decision_id, "arm": r.arm, "reward": r.reward}


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _stream_entries(reply: Any) -> list[tuple[str, dict[Any, Any]]]:
    out: list[tuple[str, dict[Any, Any]]] = []
    for _stream, entries in reply or []:
        out += [(_decode(i), f) for i, f in entries if f]
    return out


__all__ = ["Claimed", "Outbox", "RedisOutbox", "Reward", "SqliteOutbox"]
