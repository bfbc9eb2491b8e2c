#!/usr/bin/env bash
# walletd vs PostgreSQL on the same ledger shape and the same transfer, on this machine.
#
#   benches/compare.sh                     # from the workspace root or anywhere
#   DURATION=5 CLIENTS="8 32" benches/compare.sh
#
# 1. PostgreSQL: installs it from Debian packages when initdb/pg_ctl are missing, starts a
#    throwaway cluster on 127.0.0.1:$PG_PORT (fsync on, synchronous_commit on), loads
#    $WALLETS accounts and runs pgbench with one transfer per transaction (rows locked in id
#    order with SELECT ... FOR UPDATE, funds checked, both balances updated, two leg rows with
#    a unique reference inserted) at each client count in $CLIENTS for $DURATION seconds.
# 2. walletd: builds walletd and walletd-bench (release), starts walletd on a temp data dir on
#    127.0.0.1:$WALLETD_PORT and runs walletd-bench (uniform transfers, one per request) at the
#    same connection counts, plus one batch-mode run ($BATCH_SIZE per request).
# 3. Prints a table (transfers/s, p99, ratio) and writes benches/results/compare-<date>.json
#    and benches/results/compare.svg.
#
# Environment (defaults): DURATION=20 CLIENTS="8 32 64" WALLETS=10000 PG_PORT=55432
# WALLETD_PORT=18080 BATCH_SIZE=1000 BATCH_CONNECTIONS=8 PGBENCH_THREADS=1 BENCH_THREADS=1
# SKIP_PG=0 SKIP_WALLETD=0 SKIP_BUILD=0 KEEP_WORK=0.
# Every server it starts is stopped on exit. Only loopback addresses are used.
set -euo pipefail

DURATION=${DURATION:-20}
CLIENTS=${CLIENTS:-"8 32 64"}
WALLETS=${WALLETS:-10000}
PG_PORT=${PG_PORT:-55432}
WALLETD_PORT=${WALLETD_PORT:-18080}
BATCH_SIZE=${BATCH_SIZE:-1000}
BATCH_CONNECTIONS=${BATCH_CONNECTIONS:-8}
PGBENCH_THREADS=${PGBENCH_THREADS:-1}
BENCH_THREADS=${BENCH_THREADS:-1}
SKIP_PG=${SKIP_PG:-0}
SKIP_WALLETD=${SKIP_WALLETD:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_WORK=${KEEP_WORK:-0}
FUND=1000000

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS="$ROOT/benches/results"
STAMP=$(date -u +%Y%m%d-%H%M%S)
WORK=$(mktemp -d /tmp/walletd-compare.XXXXXX)
chmod 755 "$WORK"
PGHOME="$WORK/pg"  # owned by postgres when run as root: data, socket and server log
PGDATA="$PGHOME/data"
PGSOCK="$PGHOME/sock"
PGLOG="$PGHOME/postgres.log"
PGBIN=""
PG_STARTED=0
WALLETD_PID=""

log() { printf '[compare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    local rc=$?
    set +e
    if [ -n "$WALLETD_PID" ] && kill -0 "$WALLETD_PID" 2>/dev/null; then
        log "stopping walletd (pid $WALLETD_PID)"
        kill -TERM "$WALLETD_PID"
        for _ in $(seq 1 60); do kill -0 "$WALLETD_PID" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$WALLETD_PID" 2>/dev/null && kill -KILL "$WALLETD_PID"
        wait "$WALLETD_PID" 2>/dev/null
    fi
    if [ "$PG_STARTED" = 1 ]; then
        log "stopping PostgreSQL"
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null 2>&1
    fi
    if [ "$KEEP_WORK" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for c in $CLIENTS; do
    [[ "$c" =~ ^[0-9]+$ && "$c" -ge 1 ]] || die "CLIENTS must be positive integers, got '$c'"
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 1 ]] || die "DURATION must be whole seconds, got '$DURATION'"
command -v python3 >/dev/null || die "python3 is needed for the report"
mkdir -p "$RESULTS"

# ---------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------
find_pgbin() {
    local d
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        d=$(dirname "$(readlink -f "$(command -v initdb)")")
        [ -x "$d/pgbench" ] && { echo "$d"; return 0; }
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pgbench" ] && { echo "$d"; return 0; }
    return 1
}

run_postgres() {
    if ! PGBIN=$(find_pgbin); then
        [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root"
        log "installing PostgreSQL from Debian packages"
        DEBIAN_FRONTEND=noninteractive apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql postgresql-contrib
        PGBIN=$(find_pgbin) || die "PostgreSQL binaries not found after installing"
    fi
    local version
    version=$("$PGBIN/postgres" --version)
    log "PostgreSQL: $version ($PGBIN)"
    mkdir -p "$PGDATA" "$PGSOCK"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$PGHOME"; fi
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 \
        || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
    PG_STARTED=1
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PGSOCK \
            -c fsync=on -c synchronous_commit=on -c full_page_writes=on \
            -c max_connections=$(( $(echo "$CLIENTS" | tr ' ' '\n' | sort -n | tail -n 1) + 20 )) \
            -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null \
        || { cat "$PGLOG" >&2; die "PostgreSQL did not start"; }
    local psql=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
    "${psql[@]}" -c "CREATE DATABASE ledger" postgres
    log "loading $WALLETS accounts"
    "${psql[@]}" ledger <<SQL
CREATE TABLE accounts (
    id          bigint PRIMARY KEY,
    balance     numeric(20,4) NOT NULL,
    min_balance numeric(20,4) NOT NULL DEFAULT 0,
    currency    char(3) NOT NULL DEFAULT 'KES',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- One row per leg, as walletd keeps one transaction per leg: from_id is the leg's account,
-- to_id the other party, amount signed; ref is unique (the idempotency key plus the leg).
CREATE TABLE postings (
    id         bigserial PRIMARY KEY,
    ref        text NOT NULL UNIQUE,
    from_id    bigint NOT NULL,
    to_id      bigint NOT NULL,
    amount     numeric(20,4) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO accounts (id, balance) SELECT g, $FUND FROM generate_series(1, $WALLETS) g;
VACUUM ANALYZE accounts;
SQL
    # The transfer, as walletd does it: lock both wallets in id order, check funds, move
    # the money, write both legs with a unique reference, commit (fsynced).
    cat >"$WORK/transfer.sql" <<'SQL'
\set a random(1, :naccounts)
\set b 1 + (:a + random(0, :naccounts - 2)) % :naccounts
\set lo least(:a, :b)
\set hi greatest(:a, :b)
\set cents random(1, 500)
BEGIN;
SELECT id FROM accounts WHERE id IN (:lo, :hi) ORDER BY id FOR UPDATE;
SELECT (balance - :cents * 0.01 >= min_balance)::int AS funded FROM accounts WHERE id = :a \gset
\if :funded
UPDATE accounts SET balance = balance - :cents * 0.01, updated_at = now() WHERE id = :a;
UPDATE accounts SET balance = balance + :cents * 0.01, updated_at = now() WHERE id = :b;
WITH r AS (SELECT gen_random_uuid()::text AS ref)
INSERT INTO postings (ref, from_id, to_id, amount)
SELECT r.ref || v.leg, v.f, v.t, v.amt
FROM r, (VALUES ('-D', :a::bigint, :b::bigint, -(:cents * 0.01)), ('-C', :b::bigint, :a::bigint, :cents * 0.01)) AS v(leg, f, t, amt);
\endif
COMMIT;
SQL
    chmod 644 "$WORK/transfer.sql"
    local c
    for c in $CLIENTS; do
        "${psql[@]}" -c "CHECKPOINT" ledger
        log "pgbench: $c clients, ${DURATION}s"
        mkdir -p "$WORK/pglog-$c"
        (cd "$WORK/pglog-$c" && timeout $((DURATION + 300)) "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
            -n -M prepared -c "$c" -j "$(( PGBENCH_THREADS < c ? PGBENCH_THREADS : c ))" -T "$DURATION" \
            -D naccounts="$WALLETS" -f "$WORK/transfer.sql" -l --log-prefix=tx ledger) \
            >"$WORK/pgbench-$c.out" 2>&1 || { cat "$WORK/pgbench-$c.out" >&2; die "pgbench failed"; }
        grep -E "^(tps|latency average|number of transactions actually processed|number of failed)" "$WORK/pgbench-$c.out" >&2 || true
    done
    # The same conservation check as walletd-bench's: money neither created nor lost.
    "${psql[@]}" -At ledger >"$WORK/pg-check.txt" <<SQL
SELECT (SELECT sum(balance) FROM accounts) = $FUND::numeric * $WALLETS
   AND (SELECT coalesce(sum(amount), 0) FROM postings) = 0,
       (SELECT count(*) FROM postings);
SQL
    log "PostgreSQL conservation (sum unchanged, legs sum to 0 | legs): $(cat "$WORK/pg-check.txt")"
    echo "$version" >"$WORK/pg-version.txt"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
    PG_STARTED=0
}

# ---------------------------------------------------------------------------------------
# walletd
# ---------------------------------------------------------------------------------------
run_walletd() {
    if [ "$SKIP_BUILD" != 1 ]; then
        log "building walletd and walletd-bench (release)"
        (cd "$ROOT" && cargo build --release -p walletd-api --bin walletd -p walletd-benches --bin walletd-bench) >&2
    fi
    local target_dir
    target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    local walletd="$target_dir/release/walletd" bench="$target_dir/release/walletd-bench"
    [ -x "$walletd" ] && [ -x "$bench" ] || die "release binaries missing in $target_dir/release"
    local password
    password="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    export WALLETD_ADMIN_PASSWORD="$password"
    mkdir -p "$WORK/walletd-data"
    log "starting walletd on 127.0.0.1:$WALLETD_PORT"
    "$walletd" --listen "127.0.0.1:$WALLETD_PORT" --data-dir "$WORK/walletd-data" >"$WORK/walletd.log" 2>&1 &
    WALLETD_PID=$!
    local up=0
    for _ in $(seq 1 240); do
        kill -0 "$WALLETD_PID" 2>/dev/null || { cat "$WORK/walletd.log" >&2; die "walletd exited"; }
        if python3 -c "import sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$WALLETD_PORT/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
            up=1; break
        fi
        sleep 0.5
    done
    [ "$up" = 1 ] || { cat "$WORK/walletd.log" >&2; die "walletd not healthy after 120 s"; }
    local common=(--url "http://127.0.0.1:$WALLETD_PORT" --wallets "$WALLETS" --fund "$FUND" --mix transfer=100
        --workload uniform --duration "${DURATION}s" --threads "$BENCH_THREADS" --json --quiet)
    local c rc
    for c in $CLIENTS; do
        log "walletd-bench: single mode, $c connections, ${DURATION}s"
        rc=0
        timeout $((DURATION + 900)) "$bench" "${common[@]}" --mode single --connections "$c" \
            >"$WORK/walletd-$c.json" 2>"$WORK/walletd-$c.err" || rc=$?
        [ "$rc" -le 1 ] || { cat "$WORK/walletd-$c.err" >&2; die "walletd-bench failed (exit $rc)"; }
        summarize_bench "$WORK/walletd-$c.json"
    done
    log "walletd-bench: batch mode ($BATCH_SIZE per request), $BATCH_CONNECTIONS connections, ${DURATION}s"
    rc=0
    timeout $((DURATION + 900)) "$bench" "${common[@]}" --mode batch --batch-size "$BATCH_SIZE" \
        --connections "$BATCH_CONNECTIONS" >"$WORK/walletd-batch.json" 2>"$WORK/walletd-batch.err" || rc=$?
    [ "$rc" -le 1 ] || { cat "$WORK/walletd-batch.err" >&2; die "walletd-bench (batch) failed (exit $rc)"; }
    summarize_bench "$WORK/walletd-batch.json"
    (cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown) >"$WORK/walletd-rev.txt"
}

summarize_bench() {
    python3 - "$1" >&2 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r.get("conservation") or {}
print(f"  {r['postings_per_sec']:.0f} transfers/s, p99 {r['latency_ms']['p99']:.2f} ms, "
      f"{r['postings_failed']} failed, {r['postings_unknown']} unknown, conservation {'OK' if c.get('ok') else 'FAILED ' + str(c.get('problems'))}")
PY
}

# ---------------------------------------------------------------------------------------
[ "$SKIP_PG" = 1 ] || run_postgres
[ "$SKIP_WALLETD" = 1 ] || run_walletd

OUT_JSON="$RESULTS/compare-$STAMP.json"
SVG="$RESULTS/compare.svg"
python3 - "$WORK" "$OUT_JSON" "$SVG" "$DURATION" "$WALLETS" "$CLIENTS" "$BATCH_SIZE" "$BATCH_CONNECTIONS" <<'PY'
import glob, json, os, platform, re, sys, time

work, out_json, svg_path, duration, wallets, clients, batch_size, batch_conns = sys.argv[1:9]
clients = [int(c) for c in clients.split()]

def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None

def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p * (len(sorted_values) - 1)))))
    return sorted_values[k]

pg = {}
for c in clients:
    out = read(os.path.join(work, f"pgbench-{c}.out"))
    if out is None:
        continue
    tps = re.search(r"^tps = ([0-9.]+)", out, re.M)
    lat = re.search(r"^latency average = ([0-9.]+) ms", out, re.M)
    n = re.search(r"^number of transactions actually processed: (\d+)", out, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    lats = []
    for path in glob.glob(os.path.join(work, f"pglog-{c}", "tx.*")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lats.append(int(parts[2]))
    lats.sort()
    pg[c] = {
        "transfers_per_sec": float(tps.group(1)) if tps else None,
        "transactions": int(n.group(1)) if n else None,
        "failed": int(failed.group(1)) if failed else 0,
        "latency_ms": {
            "mean": float(lat.group(1)) if lat else None,
            **{k: (percentile(lats, p) / 1000.0 if lats else None)
               for k, p in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99_9", 0.999))},
            "max": lats[-1] / 1000.0 if lats else None,
        },
    }
pg_check = read(os.path.join(work, "pg-check.txt"))

wd = {}
for c in clients:
    txt = read(os.path.join(work, f"walletd-{c}.json"))
    if txt:
        wd[c] = json.loads(txt)
batch_txt = read(os.path.join(work, "walletd-batch.json"))
batch = json.loads(batch_txt) if batch_txt else None

def wd_fig(r):
    return {
        "transfers_per_sec": r["postings_per_sec"],
        "requests_per_sec": r["requests_per_sec"],
        "postings_ok": r["postings_ok"],
        "postings_failed": r["postings_failed"],
        "postings_unknown": r["postings_unknown"],
        "latency_ms": r["latency_ms"],
        "client_cpu_secs": r.get("client_cpu_secs"),
        "conservation_ok": (r.get("conservation") or {}).get("ok"),
    }

rows = []
for c in clients:
    p, w = pg.get(c), wd.get(c)
    pt = p and p["transfers_per_sec"]
    wt = w and w["postings_per_sec"]
    rows.append({
        "connections": c,
        "postgres": p,
        "walletd": wd_fig(w) if w else None,
        "throughput_ratio": (wt / pt) if (pt and wt) else None,
    })

doc = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    "parameters": {"duration_secs": int(duration), "wallets": int(wallets), "clients": clients,
                   "batch_size": int(batch_size), "batch_connections": int(batch_conns),
                   "amounts": "0.01..=5.00", "fsync": "on (both)", "workload": "uniform random transfers"},
    "postgres_version": read(os.path.join(work, "pg-version.txt")),
    "postgres_conservation": pg_check,
    "walletd_rev": read(os.path.join(work, "walletd-rev.txt")),
    "runs": rows,
    "walletd_batch": ({"connections": int(batch_conns), "batch_size": int(batch_size), **wd_fig(batch)} if batch else None),
}
with open(out_json, "w") as f:
    json.dump(doc, f, indent=2)

def fmt(v, spec):
    if isinstance(v, (int, float)):
        return format(v, spec)
    width = re.match(r"\d*", spec).group(0)
    return "-".rjust(int(width) if width else 1)

print()
print(f"transfers/s and p99 latency, {duration} s per point, {wallets} wallets, uniform random transfers")
print(f"{'conns':>6} | {'PostgreSQL tps':>14} {'p99 ms':>8} | {'walletd tps':>12} {'p99 ms':>8} | {'ratio':>6}")
print("-" * 66)
for r in rows:
    p, w = r["postgres"] or {}, r["walletd"] or {}
    print(f"{r['connections']:>6} | {fmt(p.get('transfers_per_sec'), '14.0f')} {fmt((p.get('latency_ms') or {}).get('p99'), '8.2f')} | "
          f"{fmt(w.get('transfers_per_sec'), '12.0f')} {fmt((w.get('latency_ms') or {}).get('p99'), '8.2f')} | {fmt(r['throughput_ratio'], '6.2f')}")
if batch:
    best_pg = max((p["transfers_per_sec"] for p in pg.values() if p.get("transfers_per_sec")), default=None)
    ratio = batch["postings_per_sec"] / best_pg if best_pg else None
    print(f"walletd batch ({batch_size} per request, {batch_conns} connections): {batch['postings_per_sec']:.0f} transfers/s, "
          f"p99 {batch['latency_ms']['p99']:.1f} ms per request; ratio to PostgreSQL's best {fmt(ratio, '.2f')}")
if pg_check:
    print(f"PostgreSQL conservation check (t = ok | legs): {pg_check}")
bad = [r["connections"] for r in rows if r["walletd"] and r["walletd"]["conservation_ok"] is False]
if batch and (batch.get("conservation") or {}).get("ok") is False:
    bad.append("batch")
print(f"walletd conservation: {'OK' if not bad else 'FAILED at ' + str(bad)}" if wd or batch else "walletd: not run")
print(f"written: {out_json}")

# ---- SVG: throughput and p99 against connections, by hand ----
W, H = 960, 420
panels = [("transfers/s", lambda s: s.get("transfers_per_sec")), ("p99 latency (ms)", lambda s: (s.get("latency_ms") or {}).get("p99"))]
series = [("PostgreSQL (pgbench)", "#336791", {c: pg[c] for c in pg}),
          ("walletd (single)", "#d9480f", {c: wd_fig(wd[c]) for c in wd})]
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">walletd vs PostgreSQL: uniform transfers, {wallets} wallets, {duration} s per point, fsync on</text>']
def nice_max(v):
    if v <= 0:
        return 1.0
    m = 10 ** (len(str(int(v))) - 1) if v >= 1 else 0.1
    for k in (1, 2, 2.5, 5, 10):
        if v <= k * m:
            return k * m
    return 10 * m
xs = sorted(set(clients))
for i, (title, get) in enumerate(panels):
    x0, y0, pw, ph = 70 + i * (W / 2), 50, W / 2 - 110, H - 130
    values = [get(s[c]) for _, _, s in series for c in s if get(s[c]) is not None]
    if batch and i == 0:
        values.append(batch["postings_per_sec"])
    ymax = nice_max(max(values) if values else 1)
    out.append(f'<text x="{x0 + pw/2}" y="{y0 - 8}" text-anchor="middle" font-size="13">{title}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
    def px(c):
        return x0 + (pw * (xs.index(c) + 0.5) / len(xs))
    def py(v):
        return y0 + ph - ph * v / ymax
    for k in range(6):
        v = ymax * k / 5
        y = py(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{v:,.0f}</text>' if ymax >= 10 else
                   f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for c in xs:
        out.append(f'<text x="{px(c):.1f}" y="{y0 + ph + 16}" text-anchor="middle">{c}</text>')
    out.append(f'<text x="{x0 + pw/2}" y="{y0 + ph + 34}" text-anchor="middle">connections (clients)</text>')
    for name, color, s in series:
        pts = [(px(c), py(get(s[c]))) for c in xs if c in s and get(s[c]) is not None]
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color, " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)))
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"/>')
    if batch and i == 0:
        y = py(batch["postings_per_sec"])
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#2b8a3e" stroke-dasharray="6,4"/>')
        out.append(f'<text x="{x0 + 4}" y="{y - 5:.1f}" fill="#2b8a3e">walletd batch {batch_size}/request, {batch_conns} conns: {batch["postings_per_sec"]:,.0f}/s</text>')
lx = 70
for name, color, _ in series:
    out.append(f'<rect x="{lx}" y="{H - 30}" width="14" height="4" fill="{color}"/><text x="{lx + 20}" y="{H - 24}">{name}</text>')
    lx += 220
out.append("</svg>")
with open(svg_path, "w") as f:
    f.write("\n".join(out) + "\n")
print(f"written: {svg_path}")
if bad:
    sys.exit(1)
PY
