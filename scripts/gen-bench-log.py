#!/usr/bin/env python3
"""Writes a deterministic benchmark log: realistic mixed lines (JSON app logs, nginx access logs,
logfmt, syslog, Java) with one credential every N lines (default 200), rotating among kinds.

    gen-bench-log.py OUT [--mb 200] [--every 200] [--seed 1]
Prints the number of lines and of planted credentials.
"""
import argparse
import random

KINDS = [
    lambda r: "Authorization: Bearer " + tok(r, 40),
    lambda r: "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + b64(r, 60) + "." + b64(r, 43),
    lambda r: "ghp_" + tok(r, 36),
    lambda r: "AKIA" + "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
    lambda r: '"password": "' + tok(r, 14) + '"',
    lambda r: "https://api.example.com/v1/items?access_token=" + tok(r, 32) + "&page=2",
    lambda r: "postgres://app:" + tok(r, 16) + "@db.internal:5432/app",
    lambda r: "xoxb-" + str(r.randrange(10**11, 10**12)) + "-" + str(r.randrange(10**12, 10**13)) + "-" + tok(r, 24),
]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def tok(r, n):
    return "".join(r.choice(ALNUM) for _ in range(n))


def b64(r, n):
    return "".join(r.choice(ALNUM + "-_") for _ in range(n))


def clean(r, i):
    t = f"2026-11-22T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
    trace = "%032x" % r.getrandbits(128)
    k = i % 5
    if k == 0:
        return (f'{{"ts":"{t}","level":"info","logger":"http.server","msg":"request completed","trace_id":"{trace}",'
                f'"span_id":"{r.getrandbits(64):016x}","http":{{"method":"GET","path":"/api/v1/orders/{i}","status":200}},"duration_ms":{r.random() * 900:.2f}}}')
    if k == 1:
        return (f'10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(256)} - - [22/Nov/2026:00:00:{i % 60:02d} +0000] '
                f'"GET /api/v2/users/{r.randrange(10**6)}?include=items&page={i % 40} HTTP/1.1" 200 {r.randrange(10**5)} "-" "Mozilla/5.0 (X11; Linux x86_64)"')
    if k == 2:
        return f'time={t} level=info msg="cache refreshed" component=billing region=eu-west-1 items={r.randrange(10**4)} duration={r.randrange(2000)}ms trace_id={trace}'
    if k == 3:
        return f'Nov 22 00:00:{i % 60:02d} web-0{i % 4} orders[{r.randrange(65536)}]: processed job {trace[:8]}-{trace[8:12]}-4{trace[13:16]}-a{trace[17:20]}-{trace[20:32]} in {r.randrange(500)}ms'
    return f'{t}  INFO 1 --- [orders] [nio-8080-exec-{i % 10}] c.e.orders.OrderController : order {r.randrange(10**9)} shipped to customer cus_{r.randrange(10**6)}'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    target = int(a.mb * 1e6)
    size = lines = planted = 0
    with open(a.out, "w") as f:
        while size < target:
            line = clean(r, lines)
            if a.every and lines % a.every == a.every - 1:
                line += " " + KINDS[planted % len(KINDS)](r)
                planted += 1
            f.write(line + "\n")
            size += len(line) + 1
            lines += 1
    print(f"{lines} lines, {planted} credentials, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
