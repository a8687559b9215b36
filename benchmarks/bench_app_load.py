"""Load test of the label server: many annotators answering at once over HTTP.

Starts ``robopref app`` in a subprocess on 127.0.0.1 (a free port), then N simulated
annotators (threads, one HTTP connection each, no think time: a worst-case burst) each
start a session and, M times, ask for their next query and answer it; every 10th
answer is sent twice with the same request id, as a double click or a retry would.
Then the store is checked: every answer recorded, none twice, no annotator given a
query twice, no query answered by more people than its overlap capacity. Latencies are measured at the client, so they include HTTP and JSON.
Video prefetch is off: the simulated people watch no videos, and encoding them would
measure ffmpeg, not the answer path. ``--think-ms`` adds a pause before each answer
(a person takes seconds per query; the default 0 is a burst, the worst case).

    python benchmarks/bench_app_load.py [--annotators 10] [--answers 100] [--max-p95-ms 50]

Prints one JSON object per line; exits 1 if an answer was lost or doubled, a query got
more answers than its capacity, or the p95 answer latency is above the target. The
client's own CPU (the benchmark process) is reported next to the server's, since both
share the machine. Traffic goes only to 127.0.0.1 and is bounded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

from _datasets import collected
from robopref.app.assignment import in_overlap
from robopref.data import Dataset, SegmentRef
from robopref.prefs import PreferenceStore

SEGMENT = 25


def make_queries(store: PreferenceStore, dataset: Path, count: int) -> None:
    """``count`` distinct pair queries over windows of the dataset."""
    ds = Dataset(dataset)
    windows = [SegmentRef(str(dataset), demo, start, SEGMENT)
               for demo, n in ds.lengths.items() for start in range(0, n - SEGMENT, 12)]
    pairs = list(itertools.islice(itertools.combinations(windows, 2), count))
    if len(pairs) < count:
        raise SystemExit(f"only {len(pairs)} distinct pairs in {dataset}; need {count}")
    store.add_queries(pairs, origin="uniform")


def start_server(db: Path, dataset: Path, workdir: Path, overlap: float) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "robopref.cli", "app", f"db={db}", f"datasets=[{dataset}]", "port=0",
           f"annotator_overlap={overlap}", "session_size=1000", "prefetch_videos=false", f"hydra.run.dir={workdir / 'run'}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # type: ignore[union-attr]
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, match.group(0).rstrip("/")
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("the server did not print its URL")


def annotator(url: str, name: str, answers: int, out: dict, barrier: threading.Barrier, think_s: float) -> None:
    """One simulated person: next, answer, next, answer, ..."""
    answer_ms, next_ms, seen, errors = [], [], [], []
    with httpx.Client(base_url=url, timeout=30.0) as client:
        since = client.post("/api/sessions", json={"annotator": name}).json()["since"]
        barrier.wait()
        for i in range(answers):
            t0 = time.perf_counter()
            r = client.get("/api/next", params={"annotator": name, "since": since})
            next_ms.append(1000 * (time.perf_counter() - t0))
            query = r.json()["query"]
            if query is None:
                errors.append(f"{name}: no query left after {i} answers")
                break
            seen.append(query["id"])
            if think_s:
                time.sleep(think_s * (0.5 + np.random.default_rng(hash((name, i)) % 2**32).random()))
            body = {"annotator": name, "query_id": query["id"], "request_id": uuid.uuid4().hex,
                    "choice": ("left", "right", "equal")[query["id"] % 3]}
            for attempt in range(2 if i % 10 == 0 else 1):
                t0 = time.perf_counter()
                r = client.post("/api/answers", json=body)
                answer_ms.append(1000 * (time.perf_counter() - t0))
                if r.status_code != (201 if attempt == 0 else 200):
                    errors.append(f"{name}: answer {i} attempt {attempt}: {r.status_code} {r.text}")
    out[name] = {"answer_ms": answer_ms, "next_ms": next_ms, "seen": seen, "errors": errors}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(values: list[float]) -> dict[str, float]:
    a = np.asarray(values)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "p99": round(float(np.percentile(a, 99)), 2), "max": round(float(a.max()), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--answers", type=int, default=100)
    parser.add_argument("--overlap", type=float, default=0.2)
    parser.add_argument("--max-p95-ms", type=float, default=50.0)
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause before each answer")
    args = parser.parse_args()
    dataset = collected("push2d_avoid_10", "env=push2d_avoid", "episodes=10")
    needed = int(args.annotators * args.answers * 1.3) + 50
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = work / "prefs.sqlite"
        with PreferenceStore(db) as store:
            make_queries(store, dataset, needed)
        proc, url = start_server(db, dataset, work, args.overlap)
        try:
            results: dict = {}
            barrier = threading.Barrier(args.annotators)
            threads = [threading.Thread(target=annotator, args=(url, f"annotator-{i}", args.answers, results, barrier, args.think_ms / 1000))
                       for i in range(args.annotators)]
            cpu0, client0, t0 = cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=600)
            wall = time.perf_counter() - t0
            server_cpu, client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - client0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        with PreferenceStore(db, readonly=True) as store:
            effective = store.labels(source="human")
            rows = store.count_labels(include_superseded=True)
    expected = args.annotators * args.answers
    per_pair = Counter((l.annotator, l.query_id) for l in effective)
    errors = [e for r in results.values() for e in r["errors"]]
    seen_twice = sum(len(r["seen"]) - len(set(r["seen"])) for r in results.values())
    answered_by = Counter(l.query_id for l in effective)
    over_capacity = sum(n > (2 if in_overlap(q, args.overlap) else 1) for q, n in answered_by.items())
    summary = {
        "annotators": args.annotators, "answers_each": args.answers, "think_ms": args.think_ms, "expected_labels": expected,
        "stored_labels": len(effective), "stored_rows": rows,
        "lost": expected - len(per_pair), "doubled": rows - len(per_pair) + sum(n - 1 for n in per_pair.values()),
        "query_shown_twice_to_one_annotator": seen_twice,
        "queries_with_2_annotators": sum(n >= 2 for n in answered_by.values()), "queries_over_capacity": over_capacity,
        "errors": errors[:5], "wall_s": round(wall, 2), "answers_per_s": round(expected / wall, 1),
        "server_cpu_s": round(server_cpu, 2), "server_cpu_ms_per_next_and_answer": round(1000 * server_cpu / expected, 2),
        "client_cpu_ms_per_next_and_answer": round(1000 * client_cpu / expected, 2),
        "cpu_count": os.cpu_count(), "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    answer_lat = percentiles([x for r in results.values() for x in r["answer_ms"]])
    next_lat = percentiles([x for r in results.values() for x in r["next_ms"]])
    print(json.dumps({"metric": "answer_latency_ms", **answer_lat}))
    print(json.dumps({"metric": "next_latency_ms", **next_lat}))
    print(json.dumps({"metric": "integrity", **summary}))
    ok = (not errors and summary["lost"] == 0 and summary["doubled"] == 0 and seen_twice == 0 and over_capacity == 0
          and answer_lat["p95"] <= args.max_p95_ms)
    print(json.dumps({"metric": "verdict", "ok": ok, "p95_target_ms": args.max_p95_ms}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
