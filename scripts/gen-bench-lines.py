#!/usr/bin/env python3
"""The inputs of benches/scan.rs as files: 50,000 lines of the four clean formats, with a credential
line every EVERY lines (0: none). Used for the callgrind and gate-model figures in BENCHMARKS.md.

    python3 scripts/gen-bench-lines.py EVERY > FILE
"""
import sys
every=int(sys.argv[1]); n=50000
clean=[]
for i in range(200):
    m=i%4
    if m==0: clean.append('{"ts":"2026-11-22T00:00:%02d.123Z","level":"info","msg":"request done","trace_id":"7cbe6900040c74c025eff77a2bdd%04x","status":200,"duration_ms":%d}'%(i%60,i,i))
    elif m==1: clean.append('10.0.0.%d - - [22/Nov/2026:00:00:12 +0000] "GET /api/v1/orders/%d?page=2 HTTP/1.1" 200 512 "-" "curl/8.5.0"'%(i%255,i))
    elif m==2: clean.append('time=2026-11-22T00:00:10Z level=info msg="cache hit" key=orders:%d component=billing duration=%dms'%(i,i))
    else: clean.append('Nov 22 00:00:00 web-01 app[%d]: processed job 75eb5e4e-a1da-4093-bc02-091edcd8%04x in %dms'%(i,i,i))
out=[]
for i in range(n):
    if every and i%every==0:
        out.append('GET /x?access_token=Zm9vYmFyYmF6cXV4%08d HTTP/1.1 Authorization: Bearer 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'%i)
    else: out.append(clean[i%200])
sys.stdout.write('\n'.join(out)+'\n')
