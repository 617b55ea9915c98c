#!/usr/bin/env python3
"""Canonical result tables of Flink's Nexmark runs, and comparisons with Strom's.

Part of Strom's Nexmark benchmark scripts (compare-flink.sh --check, flink-golden.sh).

usage:
  flink_canon.py canon --sql QUERY.sql [-o OUT] PRINT_OUTPUT...
      Reads what Flink's 'print' sink wrote (lines like `+I[1, abc, 2015-07-15T00:00:04.123]`,
      `-U[...]`, `+U[...]`, `-D[...]`, with a `N> ` subtask prefix when the parallelism is
      above 1; other lines are ignored), applies the changelog (+I and +U add a row, -U and -D
      remove one) and writes the final table: one JSON array of column values per line,
      sorted, in the conventions of Strom's `strom bench nexmark --output`:
        BIGINT / INT       JSON integers
        DECIMAL / DOUBLE   JSON floats (Flink prints DECIMAL(23, 3) with its scale,
                           `1816013.620`; this writes 1816013.62)
        TIMESTAMP          epoch milliseconds, UTC (Flink prints java.time.LocalDateTime,
                           which drops zero seconds and milliseconds: `2015-07-15T00:00`)
        VARCHAR            JSON strings (Flink prints them bare, unquoted)
        NULL               JSON null (Flink prints `null`, for text columns too)
      The column types come from the sink table in QUERY.sql (the CREATE TABLE whose
      connector is ${SINK...}). Rows are sorted by their compact JSON text, as Strom sorts.
      Exits 1 if a line cannot be parsed or a retraction finds no row to retract.

  flink_canon.py compare [--name qN] [--rel-tol 1e-9] EXPECTED.jsonl ACTUAL.jsonl
      Compares two such tables as multisets (numbers equal within the relative tolerance
      where either is a float). Prints `qN check=ok rows=R`, or
      `qN check=FAILED expected=E actual=A missing=M unexpected=U` and a few example rows
      to stderr. Exits 0 when equal, else 1.
"""
import argparse
import collections
import datetime
import json
import math
import re
import sys

EPOCH = datetime.datetime(1970, 1, 1)
LINE = re.compile(r"^(?:\d+> )?([+-][IUD])\[(.*)\]\s*$")
LDT = re.compile(r"^(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$")
SQL_TS = re.compile(r"^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")


# ------------------------------------------------------------------------------------------
# The sink table's schema
# ------------------------------------------------------------------------------------------

def split_top(s, sep=","):
    """Split on sep outside parentheses, angle brackets and quotes."""
    out, cur, depth, quote = [], [], 0, None
    for c in s:
        if quote:
            cur.append(c)
            if c == quote:
                quote = None
        elif c in "'`\"":
            quote = c
            cur.append(c)
        elif c in "(<":
            depth += 1
            cur.append(c)
        elif c in ")>":
            depth -= 1
            cur.append(c)
        elif c == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def strip_comments(sql):
    return re.sub(r"--[^\n]*", "", sql)


def sink_schema(sql_path):
    """[(column, kind)] of the sink table: kind is int, float, ts, bool or str."""
    sql = strip_comments(open(sql_path, encoding="utf-8").read())
    for m in re.finditer(r"CREATE\s+TABLE\s+(`?[\w.]+`?)\s*\(", sql, re.I):
        # the column list runs to the matching parenthesis
        i, depth = m.end(), 1
        while depth and i < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        body, rest = sql[m.end():i - 1], sql[i:]
        with_clause = re.match(r"\s*WITH\s*\((.*?)\)\s*;", rest, re.S | re.I)
        if not with_clause or not re.search(r"'connector'\s*=\s*'\$\{SINK", with_clause.group(1)):
            continue
        cols = []
        for part in split_top(body):
            part = part.strip()
            if not part:
                continue
            name, typ = re.match(r"(`[^`]+`|\S+)\s+(.*)$", part, re.S).groups()
            cols.append((name.strip("`"), kind_of(typ)))
        return cols
    raise SystemExit(f"{sql_path}: no sink table (CREATE TABLE ... 'connector' = '${{SINK...}}')")


def kind_of(sql_type):
    t = sql_type.strip().upper()
    if re.match(r"^(BIGINT|INT|INTEGER|SMALLINT|TINYINT)\b", t):
        return "int"
    if re.match(r"^(DECIMAL|NUMERIC|DEC|DOUBLE|FLOAT|REAL)\b", t):
        return "float"
    if t.startswith("TIMESTAMP"):
        return "ts"
    if t.startswith("BOOLEAN"):
        return "bool"
    return "str"


# ------------------------------------------------------------------------------------------
# Flink's printed rows
# ------------------------------------------------------------------------------------------

def ts_to_ms(s):
    m = LDT.match(s) or SQL_TS.match(s)
    if not m:
        raise ValueError(f"not a timestamp: {s!r}")
    y, mo, d, h, mi, se, frac = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(se or 0))
    delta = dt - EPOCH
    ms = (delta.days * 86400 + delta.seconds) * 1000
    if frac:
        ms += int((frac + "00")[:3])
    return ms


def convert(text, kind):
    if text == "null":
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "ts":
        return ts_to_ms(text)
    if kind == "bool":
        return text == "true"
    return text


def parse_row(body, schema):
    fields = body.split(", ") if schema else []
    if len(schema) == 1:
        fields = [body]
    if len(fields) != len(schema):
        raise ValueError(f"{len(fields)} fields for {len(schema)} columns")
    return [convert(f, k) for f, (_, k) in zip(fields, schema)]


def row_key(row):
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)


def canon(args):
    schema = sink_schema(args.sql)
    table = collections.Counter()
    bad = 0
    changes = collections.Counter()
    for path in args.inputs:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = LINE.match(line.rstrip("\r\n"))
                if not m:
                    continue
                kind, body = m.groups()
                changes[kind] += 1
                try:
                    key = row_key(parse_row(body, schema))
                except ValueError as e:
                    print(f"{path}:{n}: {e}: {line.rstrip()}", file=sys.stderr)
                    bad += 1
                    continue
                if kind in ("+I", "+U"):
                    table[key] += 1
                elif table[key] > 0:
                    table[key] -= 1
                else:
                    print(f"{path}:{n}: {kind} of a row not in the table: {line.rstrip()}",
                          file=sys.stderr)
                    bad += 1
    rows = sorted(table.elements(), key=lambda k: k.encode("utf-8"))
    out = sys.stdout if args.out in (None, "-") else open(args.out, "w", encoding="utf-8")
    out.write("".join(r + "\n" for r in rows))
    if out is not sys.stdout:
        out.close()
    summary = " ".join(f"{k}={changes[k]}" for k in ("+I", "-U", "+U", "-D") if changes[k])
    print(f"{args.sql}: {summary or 'no changes'} -> {len(rows)} rows", file=sys.stderr)
    return 1 if bad else 0


# ------------------------------------------------------------------------------------------
# Comparing two tables
# ------------------------------------------------------------------------------------------

def load(path):
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def close(a, b, tol):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if is_num(x) and is_num(y):
            if isinstance(x, int) and isinstance(y, int):
                if x != y:
                    return False
            elif not (x == y or math.isclose(x, y, rel_tol=tol, abs_tol=0.0)):
                return False
        elif x != y:
            return False
    return True


def compare(args):
    exp, act = load(args.expected), load(args.actual)
    name = args.name or args.actual
    left = collections.Counter(row_key(r) for r in exp)
    right = collections.Counter(row_key(r) for r in act)
    common = left & right
    missing = list((left - common).elements())
    unexpected = list((right - common).elements())
    # rows equal only within the float tolerance: match them up by their non-numeric columns
    if missing and unexpected and len(missing) * len(unexpected) <= 50_000_000:
        groups = collections.defaultdict(list)
        for k in unexpected:
            r = json.loads(k)
            groups[tuple(row_key(v) for v in r if not is_num(v)), len(r)].append(r)
        still = []
        for k in missing:
            r = json.loads(k)
            cands = groups.get((tuple(row_key(v) for v in r if not is_num(v)), len(r)), [])
            for i, c in enumerate(cands):
                if close(r, c, args.rel_tol):
                    cands.pop(i)
                    break
            else:
                still.append(k)
        missing = still
        unexpected = [row_key(r) for rs in groups.values() for r in rs]
    if not missing and not unexpected:
        print(f"{name} check=ok rows={len(exp)}")
        return 0
    print(f"{name} check=FAILED expected={len(exp)} actual={len(act)} "
          f"missing={len(missing)} unexpected={len(unexpected)}")
    for title, rows in (("missing (expected, not in actual)", missing),
                        ("unexpected (in actual, not expected)", unexpected)):
        if rows:
            print(f"  {name} {title}:", file=sys.stderr)
            for r in sorted(rows)[:5]:
                print(f"    {r}", file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("canon")
    c.add_argument("--sql", required=True)
    c.add_argument("-o", "--out")
    c.add_argument("inputs", nargs="+")
    d = sub.add_parser("compare")
    d.add_argument("--name")
    d.add_argument("--rel-tol", type=float, default=1e-9)
    d.add_argument("expected")
    d.add_argument("actual")
    args = ap.parse_args()
    sys.exit(canon(args) if args.cmd == "canon" else compare(args))


if __name__ == "__main__":
    main()
