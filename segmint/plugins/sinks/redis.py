"""Built-in ``redis`` sink: each visitor's segments in Redis, switched one whole run at a time.

A run writes a new *generation*: one set per visitor, ``<prefix>:<gen>:visitor:<id>``,
holding the visitor's segment names and ``segmentation=label`` members (a visitor in no
segment has no key). Only when every key is written does ``<prefix>:current`` switch to
the new generation, in one atomic ``SET ... GET``; the previous generation then expires
after ``grace_seconds``, so a reader that read ``current`` just before the switch still
finds whole data. A site reads ``current`` and then its visitor's key, and never sees a mix
of two runs. A run that fails half-way leaves ``current`` untouched; its keys are removed by
the next run.

One delivery per prefix runs at a time: a delivery first takes ``<prefix>:lock`` (``SET NX PX``
with a random token), keeps extending it while it writes, switches only while it still holds
it, and deletes it when done only if the token is still its own. A second delivery meanwhile
fails with a clear error; a crashed holder's lock expires after ``lock_seconds``.

Registered through the ``segmint`` entry-point group as ``redis``. Needs redis-py
(``pip install 'segmint[redis]'``). The password, if any, comes from the environment
variable that ``password_env`` names, never from the project file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import ConfigError, SegmintError
from segmint import key_text
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Delivery, PluginContext, RunResult, Sink

SCHEMES = ("redis", "rediss", "unix")

# KEYS[1] the lock, ARGV[1] the token: delete it only if it is still this delivery's.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS[1] the lock, ARGV[1] the token, ARGV[2] milliseconds: extend it only if still held.
REFRESH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS[1] the lock, KEYS[2] current, ARGV[1] the token, ARGV[2] the new generation:
# the switch, only while the lock is still held. {0}: lock lost; {1}: switched, no previous
# generation; {1, previous}: switched from previous.
SWITCH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {0} end
local previous = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], ARGV[2])
if previous then return {1, previous} end
return {1}
"""


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value <= 0:
        raise ValueError(f"must be more than 0, got {value}", attribute)


@attrs.frozen
class RedisSinkOptions:
    """Options of the ``redis`` sink."""

    url: str = attrs.field(default="redis://127.0.0.1:6379/0", metadata={
        "help": "the server, as redis://HOST:PORT/DB (no password here: use password_env)"})
    password_env: str | None = attrs.field(default=None, metadata={
        "help": "environment variable holding the server's password"})
    prefix: str = attrs.field(default="segmint", metadata={"help": "prefix of every key"})
    segments: list[str] = attrs.field(factory=list, metadata={
        "help": "segments and segmentations to publish; all when empty"})
    grace_seconds: int = attrs.field(default=300, validator=_positive, metadata={
        "help": "how long the previous generation stays readable after the switch"})
    batch_size: int = attrs.field(default=5000, validator=_positive, metadata={
        "help": "keys written per round trip"})
    lock_seconds: int = attrs.field(default=600, validator=_positive, metadata={
        "help": "how long a crashed delivery's lock on the prefix outlives it"})


class RedisSink(Sink):
    """Writes each visitor's segments to Redis under a new generation, then switches."""

    name = "redis"
    description = "visitors' segments as Redis sets, switched atomically per run"
    Options = RedisSinkOptions

    def __init__(self, sink_name: str, options: RedisSinkOptions, context: PluginContext) -> None:
        super().__init__(sink_name, options, context)
        parts = urlsplit(options.url)
        if parts.scheme not in SCHEMES:
            raise ConfigError(f"sink '{sink_name}': url must start with redis://, rediss:// "
                              f"or unix://, got '{options.url}'")
        if parts.password:
            raise ConfigError(f"sink '{sink_name}': the url must not hold a password; put it in "
                              f"an environment variable and name it with password_env")
        if not options.prefix or any(c.isspace() for c in options.prefix):
            raise ConfigError(f"sink '{sink_name}': prefix must be a non-empty word")
        self.keys = Keys(options.prefix)

    @property
    def target(self) -> str:
        parts = urlsplit(self.options.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        """Write a new generation and switch to it (unless `dry_run`: then connect to nothing)."""
        columns = self._columns(result)
        visitors = list(visitor_members(result.membership, result.key, columns))
        written = sum(1 for _, members in visitors if members)
        skipped = len(visitors) - written
        if dry_run:
            return Delivery(sink=self.sink_name, added=written, skipped=skipped,
                            target=f"{self.target} ({self.options.prefix}:*)", dry_run=True)
        client = self._client()
        try:
            token = self._lock(client)
            done = False
            try:
                with _Refresher(client, self.keys.lock, token,
                                self.options.lock_seconds) as refresher:
                    generation, previous = self._publish(client, result, visitors, columns,
                                                         token, refresher)
                done = True
            finally:
                try:
                    self._unlock(client, token)
                except Exception:
                    if done:  # else keep the first error; the lock expires on its own
                        raise
        except SegmintError:
            raise
        except Exception as error:
            if type(error).__module__.startswith("redis"):
                raise SegmintError(f"sink '{self.sink_name}': Redis at {self.target} failed: "
                                   f"{type(error).__name__}: {error}") from None
            raise
        finally:
            client.close()
        switched = f"generation {generation}" + (f", replacing {previous}" if previous else "")
        return Delivery(sink=self.sink_name, added=written, skipped=skipped,
                        target=f"{self.target} {self.options.prefix}:current = {switched}")

    def _columns(self, result: RunResult) -> list[str]:
        names = [c for c in result.membership.column_names if c != result.key]
        if not self.options.segments:
            return names
        unknown = [n for n in self.options.segments if n not in names]
        if unknown:
            raise SegmintError(f"sink '{self.sink_name}': no segment or segmentation "
                               f"'{unknown[0]}' in this run (it has: {', '.join(names)})")
        return list(self.options.segments)

    def _client(self) -> Any:
        try:
            import redis
        except ImportError:
            raise SegmintError(f"sink '{self.sink_name}' needs redis-py: "
                               f"pip install 'segmint[redis]'") from None
        password = None
        if self.options.password_env:
            password = os.environ.get(self.options.password_env)
            if not password:
                raise SegmintError(f"sink '{self.sink_name}': the environment variable "
                                   f"{self.options.password_env} (password_env) is not set")
        return redis.Redis.from_url(self.options.url, password=password, socket_timeout=60,
                                    decode_responses=True)

    def _lock(self, client: Any) -> str:
        """Take the prefix's lock and return its token, or fail if another delivery holds it."""
        token = secrets.token_hex(16)
        milliseconds = self.options.lock_seconds * 1000
        if client.set(self.keys.lock, token, nx=True, px=milliseconds):
            return token
        left = client.pttl(self.keys.lock)
        expires = f"; its lock expires in {max(left, 0) / 1000:.0f} s unless renewed" if left >= 0 else ""
        raise SegmintError(f"sink '{self.sink_name}': another delivery to Redis prefix "
                           f"'{self.options.prefix}' is running (it holds "
                           f"{self.keys.lock}){expires}; try again when it has finished")

    def _unlock(self, client: Any, token: str) -> None:
        client.eval(UNLOCK, 1, self.keys.lock, token)

    def _lost(self) -> SegmintError:
        return SegmintError(f"sink '{self.sink_name}': lost the lock on Redis prefix "
                            f"'{self.options.prefix}' while writing (another delivery took "
                            f"{self.keys.lock}); did not switch, '{self.keys.current}' is unchanged")

    def _publish(self, client: Any, result: RunResult, visitors: list[tuple[str, list[str]]],
                 columns: list[str], token: str,
                 refresher: _Refresher) -> tuple[str, str | None]:
        keys = self.keys
        generation = str(client.incr(keys.counter))
        self._forget_abandoned(client, generation)
        client.sadd(keys.pending, generation)
        batch = self.options.batch_size
        pipe = client.pipeline(transaction=False)
        queued = 0
        for visitor, members in visitors:
            if members:
                pipe.sadd(keys.visitor(generation, visitor), *members)
                queued += 1
                if queued % batch == 0:
                    pipe.execute()
                    if refresher.lost:
                        raise self._lost()
        pipe.hset(keys.meta(generation), mapping={
            "as_of": result.as_of.isoformat(),
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "visitors": str(queued),
            "columns": json.dumps(columns),
        })
        pipe.execute()
        switched = client.eval(SWITCH, 2, keys.lock, keys.current, token, generation)
        if not switched[0]:
            raise self._lost()
        previous = switched[1] if len(switched) > 1 else None
        client.srem(keys.pending, generation)
        if previous is not None and previous != generation:
            self._expire(client, previous, self.options.grace_seconds)
        return generation, previous

    def _forget_abandoned(self, client: Any, generation: str) -> None:
        """Remove what runs that failed before their switch left behind."""
        current = client.get(self.keys.current)
        for stale in client.smembers(self.keys.pending):
            if stale not in (generation, current):
                self._expire(client, stale, 0)
                client.srem(self.keys.pending, stale)

    def _expire(self, client: Any, generation: str, seconds: int) -> None:
        pipe = client.pipeline(transaction=False)
        for n, key in enumerate(client.scan_iter(match=self.keys.pattern(generation), count=10_000)):
            if seconds:
                pipe.expire(key, seconds)
            else:
                pipe.unlink(key)
            if n % self.options.batch_size == self.options.batch_size - 1:
                pipe.execute()
        pipe.execute()


class _Refresher:
    """Extends the lock every third of its time to live while a delivery writes, from a
    thread of its own; `lost` turns true if the lock is found to be someone else's."""

    def __init__(self, client: Any, key: str, token: str, seconds: int) -> None:
        self.client, self.key, self.token = client, key, token
        self.milliseconds = seconds * 1000
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="segmint-redis-lock", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.milliseconds / 3000):
            try:
                if not self.client.eval(REFRESH, 1, self.key, self.token, self.milliseconds):
                    self.lost = True
                    return
            except Exception as error:
                if not type(error).__module__.startswith("redis"):
                    raise
                # A Redis error: the writer sees the same trouble; the switch checks the lock.


@attrs.frozen
class Keys:
    """The key layout under one prefix."""

    prefix: str

    @property
    def current(self) -> str:
        return f"{self.prefix}:current"

    @property
    def counter(self) -> str:
        return f"{self.prefix}:generation"

    @property
    def pending(self) -> str:
        return f"{self.prefix}:pending"

    @property
    def lock(self) -> str:
        return f"{self.prefix}:lock"

    def visitor(self, generation: str, visitor: str) -> str:
        return f"{self.prefix}:{generation}:visitor:{visitor}"

    def meta(self, generation: str) -> str:
        return f"{self.prefix}:{generation}:meta"

    def pattern(self, generation: str) -> str:
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in f"{self.prefix}:{generation}:")
        return escaped + "*"


def visitor_members(membership: pa.Table, key: str,
                    columns: Iterable[str]) -> Iterator[tuple[str, list[str]]]:
    """Each visitor's key as text and its members: segment names, ``segmentation=label``."""
    keys = membership.column(key)
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)
    texts = key_text(keys)
    members: list[list[str]] = [[] for _ in texts]
    for name in columns:
        column = membership.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_boolean(column.type):
            for row in pc.indices_nonzero(pc.fill_null(column, False)).to_pylist():
                members[row].append(name)
        else:
            for row, label in enumerate(column.to_pylist()):
                if label is not None:
                    members[row].append(f"{name}={label}")
    return zip(texts, members)


@hookimpl
def register_sinks() -> list[type]:
    return [RedisSink]
