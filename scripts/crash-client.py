#!/usr/bin/env python3
"""Load client and checker of scripts/crash-test.sh (Python 3 standard library only).

  setup  create keys through the admin API and open one session per caption thread
  load   verify and caption load from several threads until a stop file appears; every
         attempt and its answer goes to a JSON-lines log
  check  compare the log with the database (psql): every acknowledged meter stored exactly
         once, counters and rollups equal to the sums over the stored events

Acknowledged means a 2xx answer. A verify request of an even-numbered thread carries its own
`Idempotency-Key` and is retried with the same key after a transport error or a 503 (as a
careful gateway would), so a meter committed but not answered before a crash is answered by the
replay. `POST /captions` and the verify requests of odd-numbered threads carry no idempotency
key (such meters take the store's optimistic path, those with one its locking path); each such
thread sends its requests one after another (captions on a session of its own, verify with a
`path` of its own), so a stored event belongs to the attempt whose send-to-answer window holds
its `occurred_at` (same machine, same clock), and its `units` must be that attempt's.

Only the schema of migrations/ is read (usage_events, api_keys and its daily counter, key_daily_usage,
usage_rollups, idempotency_keys, sessions), never the server's internals.
"""

import argparse
import bisect
import collections
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid

# --------------------------------------------------------------------------- HTTP


class Client:
    """One keep-alive connection; reconnects after a transport error."""

    def __init__(self, base, timeout=60.0):
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        """(status, headers dict lower-cased, parsed body) or raises OSError/HTTPException."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        data = None if body is None else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        try:
            self.conn.request(method, path, body=data, headers=h)
            resp = self.conn.getresponse()
            raw = resp.read()
        except Exception:
            self.close()
            raise
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def now_us():
    return time.time_ns() // 1000


# --------------------------------------------------------------------------- setup

# (name, daily_limit, lifetime_limit). The limits are small enough that some keys run out during
# a run, so refusals (429) and exact limits are part of what the check covers.
KEYS = [
    ("free-1", None, None),
    ("free-2", None, None),
    ("free-3", None, None),
    ("free-4", None, None),
    ("life-1", None, 1500),
    ("life-2", None, 4000),
    ("day-1", 1500, None),
    ("day-2", 4000, None),
    ("both", 3000, 2500),
]
# Keys that also carry a caption session (one per caption thread).
CAPTION_KEYS = ["free-1", "free-2", "life-1", "day-1"]


def setup(args):
    c = Client(args.base)
    admin = {"X-Admin-Key": args.admin_key}
    keys = []
    for name, daily, lifetime in KEYS:
        body = {"name": f"crash-{name}", "daily_limit": daily, "lifetime_limit": lifetime}
        status, _, b = c.call("POST", "/v1/keys", body, admin)
        if status != 201:
            sys.exit(f"crash-client: POST /v1/keys answered {status}: {b}")
        keys.append({"name": name, "id": b["id"], "secret": b["key"],
                     "daily": daily, "lifetime": lifetime})
    by_name = {k["name"]: k for k in keys}
    sessions = []
    for i, name in enumerate(CAPTION_KEYS[: args.caption_threads]):
        k = by_name[name]
        body = {"apiKey": k["secret"], "domain": "localhost", "streamKey": f"crash-{i}",
                "sequence": 0}
        status, _, b = c.call("POST", "/live", body)
        if status != 200:
            sys.exit(f"crash-client: POST /live answered {status}: {b}")
        sessions.append({"id": b["sessionId"], "token": b["token"], "key_id": k["id"],
                         "key": name})
    with open(args.state, "w") as f:
        json.dump({"keys": keys, "sessions": sessions}, f, indent=1)


# --------------------------------------------------------------------------- load


class Log:
    """Attempts as JSON lines, one lock for all threads."""

    def __init__(self, path):
        self.f = open(path, "w", buffering=1 << 16)
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self.lock:
            self.f.write(line)

    def close(self):
        with self.lock:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()


def attempt(client, method, path, body, headers):
    """One request: a record with t0/t1 (µs), status (None on a transport error)."""
    t0 = now_us()
    try:
        status, h, b = client.call(method, path, body, headers)
        rec = {"t0": t0, "t1": now_us() + 1, "status": status}
        if "retry-after" in h:
            rec["ra"] = h["retry-after"]
        if status >= 500 or status not in (200, 201, 202, 429):
            rec["body"] = b if isinstance(b, (dict, str)) else str(b)
        return rec
    except (OSError, http.client.HTTPException) as e:
        return {"t0": t0, "t1": now_us() + 1, "status": None, "err": type(e).__name__}


def verify_worker(n, args, keys, log, stop, deadline):
    if n % 2 == 1:
        return plain_verify_worker(n, args, keys, log, stop, deadline)
    rnd = random.Random(n)
    client = Client(args.base)
    admin = {"X-Admin-Key": args.admin_key}
    while not stop.is_set() and time.time() < deadline:
        key = rnd.choice(keys)
        units = rnd.randint(1, 3)
        idem = f"crash-{uuid.uuid4()}"
        body = {"key": key["secret"], "units": units,
                "event": {"method": "POST", "path": f"/crash/{n}", "status_code": 200}}
        headers = dict(admin, **{"Idempotency-Key": idem})
        for tries in range(1000):
            rec = attempt(client, "POST", "/v1/verify", body, headers)
            rec.update(op="verify", id=idem, key=key["id"], n=units, try_=tries)
            log.write(rec)
            if rec["status"] is not None and rec["status"] != 503:
                break
            # Server or database away: retry the same request (same Idempotency-Key) until
            # it is answered, or give up when the run is over.
            if stop.is_set() or time.time() >= deadline:
                break
            time.sleep(0.05)


def plain_verify_worker(n, args, keys, log, stop, deadline):
    """Verify without an idempotency key: one attempt per request, never retried (a retry could
    count twice); its events are told apart by the thread's own `path`."""
    rnd = random.Random(n)
    client = Client(args.base)
    admin = {"X-Admin-Key": args.admin_key}
    path = f"/crash-plain/{n}"
    while not stop.is_set() and time.time() < deadline:
        key = rnd.choice(keys)
        units = rnd.randint(1, 3)
        body = {"key": key["secret"], "units": units,
                "event": {"method": "POST", "path": path, "status_code": 200}}
        rec = attempt(client, "POST", "/v1/verify", body, admin)
        rec.update(op="vplain", stream=path, key=key["id"], n=units)
        log.write(rec)
        if rec["status"] is None or rec["status"] == 503:
            time.sleep(0.05)


def caption_worker(n, args, session, log, stop, deadline):
    client = Client(args.base)
    auth = {"Authorization": f"Bearer {session['token']}"}
    i = 0
    while not stop.is_set() and time.time() < deadline:
        size = 1 + i % 5
        body = {"captions": [{"text": f"crash {n}.{i}.{j}"} for j in range(size)]}
        rec = attempt(client, "POST", "/captions", body, auth)
        rec.update(op="captions", sess=session["id"], key=session["key_id"], n=size)
        log.write(rec)
        i += 1
        if rec["status"] is None or rec["status"] == 503:
            time.sleep(0.05)


def load(args):
    with open(args.state) as f:
        state = json.load(f)
    log = Log(args.log)
    stop = threading.Event()
    deadline = time.time() + args.max_seconds
    threads = [threading.Thread(target=verify_worker, args=(i, args, state["keys"], log, stop,
                                                            deadline))
               for i in range(args.verify_threads)]
    threads += [threading.Thread(target=caption_worker, args=(i, args, s, log, stop, deadline))
                for i, s in enumerate(state["sessions"])]
    for t in threads:
        t.start()
    open(args.ready, "w").close()
    while not os.path.exists(args.stop) and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    log.close()


# --------------------------------------------------------------------------- check


def match_windows(attempts, stream_of, ok, stored):
    """Counts for requests without idempotency keys: each stored `(stream, units, at_us)` row
    belongs to the attempt of its stream whose send-to-answer window holds `at`."""
    by_stream = collections.defaultdict(list)
    for r in attempts:
        by_stream[r[stream_of]].append(r)
    events = collections.defaultdict(list)
    for stream, units, at in stored:
        events[stream].append((int(at), int(units)))
    n = collections.Counter()
    for stream in set(by_stream) | set(events):
        atts = sorted(by_stream.get(stream, []), key=lambda r: r["t0"])
        starts = [a["t0"] for a in atts]
        hits = collections.defaultdict(list)
        for at, units in events.get(stream, []):
            # Attempts of one thread never overlap: at most one window holds `at`.
            j = bisect.bisect_right(starts, at) - 1
            if j < 0 or at > atts[j]["t1"]:
                n["unmatched"] += 1
            else:
                hits[j].append(units)
        for j, a in enumerate(atts):
            h = hits.get(j, [])
            if len(h) > 1:
                n["dup"] += 1
            if any(u != a["n"] for u in h):
                n["mismatch"] += 1
            if a["status"] == ok:
                n["acked"] += 1
                n["units"] += a["n"]
                if h:
                    n["found"] += 1
                else:
                    n["lost"] += 1
            elif h:
                n["unacked_stored"] += 1
                if a["status"] == 503:
                    n["503_stored"] += 1
                elif a["status"] is not None:
                    n["mismatch"] += 1  # refused (429, 4xx) yet stored
    return n


def psql(db, sql):
    """Rows of a query as lists of strings (NULL = '')."""
    out = subprocess.run(
        ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres",
         "-d", db, "-F", "\t", "-c", "SET TIME ZONE 'UTC'", "-c", sql],
        check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


# Each query returns the rows that break a rule; none = consistent.
CONSISTENCY = {
    "api_keys.lifetime_used = sum(usage_events.units) per key": """
        SELECT k.id, k.lifetime_used, COALESCE(e.units, 0)
        FROM api_keys k
        LEFT JOIN (SELECT key_id, sum(units) AS units FROM usage_events GROUP BY key_id) e
               ON e.key_id = k.id
        WHERE k.lifetime_used <> COALESCE(e.units, 0)""",
    "daily counters (api_keys.daily_used, key_daily_usage) = sum(usage_events.units) per key and UTC day": """
        WITH e AS (SELECT key_id, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                          sum(units) AS units
                   FROM usage_events WHERE key_id IS NOT NULL GROUP BY 1, 2),
             d AS (SELECT key_id, day, used FROM key_daily_usage
                   UNION ALL
                   SELECT id, daily_day, daily_used FROM api_keys WHERE daily_day IS NOT NULL)
        SELECT COALESCE(d.key_id, e.key_id), COALESCE(d.day, e.day), d.used, e.units
        FROM d FULL JOIN e ON e.key_id = d.key_id AND e.day = d.day
        WHERE d.used IS DISTINCT FROM e.units AND NOT (d.used = 0 AND e.units IS NULL)""",
    "usage_rollups = sums over active usage_events per key and hour": """
        WITH e AS (SELECT key_id, date_trunc('hour', occurred_at) AS hour, count(*) AS c,
                          sum(units) AS u, sum(cost_nanos) AS cn, sum(tokens) AS t,
                          sum(quota) AS q, sum(duration_ms) AS dm
                   FROM usage_events WHERE active GROUP BY 1, 2),
             r AS (SELECT key_id, hour, sum(count) AS c, sum(units) AS u,
                          sum(cost_nanos) AS cn, sum(tokens) AS t, sum(quota) AS q,
                          sum(duration_ms) AS dm
                   FROM usage_rollups GROUP BY 1, 2)
        SELECT COALESCE(e.key_id, r.key_id), COALESCE(e.hour, r.hour),
               e.c, r.c, e.u, r.u
        FROM e FULL JOIN r ON e.key_id IS NOT DISTINCT FROM r.key_id AND e.hour = r.hour
        WHERE (e.c, e.u, e.cn, e.t, e.q, e.dm) IS DISTINCT FROM (r.c, r.u, r.cn, r.t, r.q, r.dm)
          AND NOT (e.c IS NULL AND r.c = 0 AND r.u = 0)""",
    "no key over its lifetime limit": """
        SELECT id, lifetime_used, lifetime_limit FROM api_keys
        WHERE lifetime_limit IS NOT NULL AND lifetime_used > lifetime_limit""",
    "no key over its daily limit": """
        WITH d AS (SELECT key_id, day, used FROM key_daily_usage
                   UNION ALL
                   SELECT id, daily_day, daily_used FROM api_keys WHERE daily_day IS NOT NULL)
        SELECT d.key_id, d.day, d.used, k.daily_limit
        FROM d JOIN api_keys k ON k.id = d.key_id
        WHERE k.daily_limit IS NOT NULL AND d.used > k.daily_limit""",
    "every event with an idempotency key has its idempotency_keys row": """
        SELECT e.id, e.idempotency_key FROM usage_events e
        LEFT JOIN idempotency_keys i
               ON i.org_id = e.org_id AND i.idempotency_key = e.idempotency_key
        WHERE e.idempotency_key IS NOT NULL
          AND (i.event_id IS NULL OR i.event_id <> e.id)""",
    "every idempotency_keys row points at a stored event": """
        SELECT i.idempotency_key, i.event_id FROM idempotency_keys i
        LEFT JOIN usage_events e ON e.id = i.event_id AND e.occurred_at = i.event_occurred_at
        WHERE e.id IS NULL""",
    "sessions.sequence = number of stored caption events of the session": """
        SELECT s.id, s.sequence, count(e.id)
        FROM sessions s LEFT JOIN usage_events e ON e.session_id = s.id AND e.kind = 'caption'
        GROUP BY s.id, s.sequence HAVING s.sequence <> count(e.id)""",
}


def check(args):
    with open(args.state) as f:
        state = json.load(f)
    marks = {}
    if args.marks and os.path.exists(args.marks):
        with open(args.marks) as f:
            for line in f:
                name, value = line.split()
                marks.setdefault(name, []).append(int(value))
    recs = []
    with open(args.log) as f:
        for line in f:
            recs.append(json.loads(line))
    problems = []

    # Status counts over every attempt.
    statuses = collections.Counter()
    no_retry_after_503 = other_5xx = unexpected = transport = 0
    examples = []
    for r in recs:
        s = r["status"]
        statuses["transport error" if s is None else s] += 1
        if s is None:
            transport += 1
        elif s == 503 and "ra" not in r:
            no_retry_after_503 += 1
        elif s >= 500 and s != 503:
            other_5xx += 1
            examples.append(r)
        elif s not in (200, 202, 429, 503):
            unexpected += 1
            examples.append(r)

    # Verify: outcome per idempotency key (the last attempt).
    v_last = {}
    v_retried = 0
    for r in recs:
        if r["op"] == "verify":
            v_last[r["id"]] = r
            if r["try_"] == 1:
                v_retried += 1
    v_acked = {i for i, r in v_last.items() if r["status"] == 200}
    v_refused = {i for i, r in v_last.items() if r["status"] == 429}
    stored = {row[0]: int(row[1]) for row in psql(
        args.db, "SELECT idempotency_key, count(*) FROM usage_events "
                 "WHERE idempotency_key IS NOT NULL GROUP BY 1")}
    v_found = sum(1 for i in v_acked if stored.get(i, 0) >= 1)
    v_lost = sorted(i for i in v_acked if i not in stored)
    v_dup = sorted(i for i, c in stored.items() if c > 1)
    v_unacked_stored = [i for i in stored if i not in v_acked and i in v_last]
    v_refused_stored = [i for i in v_refused if i in stored]
    v_foreign = [i for i in stored if i not in v_last]

    # Captions and plain verify: match stored events to attempt windows, per stream (a
    # session, a verify thread's path).
    cap = match_windows(
        [r for r in recs if r["op"] == "captions"], "sess", 202,
        psql(args.db, "SELECT session_id, units, "
                      "(extract(epoch FROM occurred_at) * 1000000)::bigint "
                      "FROM usage_events WHERE kind = 'caption' ORDER BY occurred_at"))
    plain = match_windows(
        [r for r in recs if r["op"] == "vplain"], "stream", 200,
        psql(args.db, "SELECT path, units, "
                      "(extract(epoch FROM occurred_at) * 1000000)::bigint "
                      "FROM usage_events WHERE path LIKE '/crash-plain/%' ORDER BY occurred_at"))
    c_acked, c_units, c_found, c_lost, c_dup = (cap[k] for k in (
        "acked", "units", "found", "lost", "dup"))
    c_unacked_stored, c_503_stored = cap["unacked_stored"], cap["503_stored"]
    c_mismatch = cap["mismatch"] + plain["mismatch"]
    c_unmatched = cap["unmatched"] + plain["unmatched"]
    c_acked += plain["acked"]
    c_found += plain["found"]
    c_lost += plain["lost"]
    c_dup += plain["dup"]

    acknowledged = len(v_acked) + c_acked
    found = v_found + c_found
    lost = len(v_lost) + c_lost
    duplicated = len(v_dup) + c_dup
    line = (f"{args.label}: acknowledged {acknowledged}, found {found}, lost {lost}, "
            f"duplicated {duplicated}")
    if args.phase == "pgrestart":
        n503 = statuses.get(503, 0)
        line += (f", 503 {n503} ({n503 - no_retry_after_503} with Retry-After), "
                 f"other 5xx {other_5xx}, dropped connections {transport}")
    else:
        line += f", 5xx {other_5xx + statuses.get(503, 0)}"
    if lost:
        problems.append(f"{lost} acknowledged meters not in the database "
                        f"(verify: {v_lost[:5]}; caption batches: {c_lost})")
    if duplicated:
        problems.append(f"{duplicated} meters stored more than once "
                        f"(verify: {v_dup[:5]}; caption batches: {c_dup})")
    if v_refused_stored:
        problems.append(f"{len(v_refused_stored)} verify requests answered 429 yet stored: "
                        f"{v_refused_stored[:5]}")
    if v_foreign:
        problems.append(f"{len(v_foreign)} stored idempotency keys the client never sent")
    if c_unmatched:
        problems.append(f"{c_unmatched} stored caption or plain verify events match no "
                        "attempt's window")
    if c_mismatch:
        problems.append(f"{c_mismatch} caption or plain verify attempts whose stored event "
                        "disagrees (wrong units, or refused yet stored)")
    if other_5xx:
        problems.append(f"{other_5xx} answers 5xx other than 503, e.g. {examples[:2]}")
    if unexpected:
        problems.append(f"{unexpected} unexpected answers, e.g. {examples[:2]}")
    if no_retry_after_503:
        problems.append(f"{no_retry_after_503} answers 503 without Retry-After")

    checks = []
    for name, sql in CONSISTENCY.items():
        bad = psql(args.db, sql)
        checks.append((name, bad))
        if bad:
            problems.append(f"inconsistent: {name}: {len(bad)} rows, e.g. {bad[:3]}")

    if args.phase == "pgrestart":
        down = marks.get("pg_down", [0])[0]
        up = marks.get("pg_up", [0])[0]
        during = [r for r in recs if r["status"] == 503 and r["t1"] >= down]
        if not during:
            problems.append("no 503 seen while Postgres was down (downtime too short?)")
        if transport:
            problems.append(f"{transport} requests got no answer (connection reset or "
                            "closed) although only Postgres restarted")
        ok_after = [r["t1"] for r in recs if r["status"] in (200, 202) and r["t0"] >= up]
        recovery = f"{(min(ok_after) - up) / 1e6:.2f} s" if ok_after else "never"
        if not ok_after:
            problems.append("no request succeeded after Postgres came back")
        if marks.get("tally_restarted"):
            problems.append("tally was not running after the Postgres restart")

    print(line)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items(), key=lambda x: str(x[0])))
    print(f"  verify: {len(v_acked)} acknowledged ({v_retried} after a retry with the same "
          f"Idempotency-Key), {len(v_refused)} refused (429), {len(v_unacked_stored)} stored "
          f"but never acknowledged (in flight at the crash), "
          f"{len(v_last) - len(v_acked) - len(v_refused)} unanswered at the end")
    print(f"  verify without Idempotency-Key: {plain['acked']} acknowledged, "
          f"{plain['unacked_stored']} stored but never acknowledged")
    print(f"  captions: {cap['acked']} batches acknowledged ({c_units} captions), "
          f"{c_unacked_stored} stored but never acknowledged"
          + (f" ({c_503_stored} of them answered 503)" if c_503_stored else ""))
    print(f"  answers: {counts}")
    if args.phase == "pgrestart":
        print(f"  Postgres unavailable {(up - down) / 1e6:.1f} s (stop issued to accepting "
              f"connections); first success {recovery} after it was back; "
              + ("tally NOT running" if marks.get("tally_restarted") else
                 "the same tally process throughout"))
    elif marks.get("kill"):
        print(f"  tally killed with SIGKILL {len(marks['kill'])} times and restarted "
              f"(restart to healthy: {', '.join(f'{d / 1e6:.2f} s' for d in marks.get('restart', []))})")
    # Delivery outcomes are not meters (the queue is in memory): reported, not checked.
    (metered, outcomes), = psql(
        args.db, "SELECT (SELECT COALESCE(sum(units), 0) FROM usage_events "
                 "WHERE kind = 'caption'), "
                 "(SELECT COALESCE(sum(captions_sent + captions_failed), 0) FROM sessions)")
    print(f"  delivery (not checked): {outcomes} of {metered} metered captions have a recorded "
          "outcome (sessions.captions_sent + captions_failed)")
    ok = sum(1 for _, bad in checks if not bad)
    print(f"  consistency: {ok}/{len(checks)} checks hold "
          "(lifetime, daily, rollups, limits, idempotency rows, session sequences)")
    if c_503_stored:
        print(f"  note: {c_503_stored} caption batches answered 503 were stored: the commit "
              "reached Postgres but its answer did not reach tally")
    for p in problems:
        print(f"  FAIL: {p}")
    return 1 if problems else 0


# --------------------------------------------------------------------------- main


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("setup", "load", "check"):
        s = sub.add_parser(name)
        s.add_argument("--state", required=True)
        if name != "check":
            s.add_argument("--base", required=True)
            s.add_argument("--admin-key", required=True)
    sub.choices["setup"].add_argument("--caption-threads", type=int, default=4)
    ld = sub.choices["load"]
    ld.add_argument("--log", required=True)
    ld.add_argument("--ready", required=True)
    ld.add_argument("--stop", required=True)
    ld.add_argument("--verify-threads", type=int, default=8)
    ld.add_argument("--max-seconds", type=float, default=60)
    ck = sub.choices["check"]
    ck.add_argument("--log", required=True)
    ck.add_argument("--db", required=True)
    ck.add_argument("--phase", choices=["kill9", "pgrestart"], required=True)
    ck.add_argument("--label", required=True)
    ck.add_argument("--marks")
    args = p.parse_args()
    if args.cmd == "setup":
        setup(args)
    elif args.cmd == "load":
        load(args)
    else:
        sys.exit(check(args))


if __name__ == "__main__":
    main()
