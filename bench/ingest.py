#!/usr/bin/env python3
"""Post Alertmanager notifications to a running Tocsin and print throughput and latency.

Starts nothing itself. Example (an integration with no rate limit):

    python manage.py create_integration bench --kind alertmanager --rate-limit 0
    python bench/ingest.py --url http://127.0.0.1:8012 --token TOKEN -n 5000 -c 8
    python bench/ingest.py --url http://127.0.0.1:8012 --token TOKEN -n 5000 -c 8 --duplicates

Distinct mode sends N single-alert notifications, each a new alert (by default each in its own
group, so each opens an incident: the worst case; --groups G spreads them over G groups).
Duplicate mode sends the same notification N times: one alert, its count climbing.
Uses only the standard library so the client costs as little CPU as possible.
"""

import argparse
import http.client
import json
import statistics
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

PATH = "/api/v1/integrations/alertmanager/"


def notification(run: str, index: int, groups: int) -> bytes:
    group = f"{run}-{index % groups if groups else index}"
    fingerprint = f"{abs(hash((run, index))) & 0xFFFFFFFFFFFFFFFF:016x}"
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="BenchAlert", group="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "tocsin",
        "groupLabels": {"alertname": "BenchAlert", "group": group},
        "commonLabels": {"alertname": "BenchAlert"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "BenchAlert",
                    "group": group,
                    "instance": f"host-{index}:9100",
                    "severity": "warning",
                },
                "annotations": {"summary": f"Bench alert {index} of run {run}"},
                "startsAt": "2026-11-23T01:54:28.414119936Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="Tocsin's base URL, e.g. http://127.0.0.1:8012"
    )
    parser.add_argument("--token", required=True, help="An alertmanager integration's token")
    parser.add_argument("-n", type=int, default=2000, help="notifications to send")
    parser.add_argument("-c", type=int, default=8, help="concurrent senders")
    parser.add_argument("--duplicates", action="store_true", help="send one notification N times")
    parser.add_argument(
        "--groups", type=int, default=0, help="distinct mode: groups (0: one per alert)"
    )
    args = parser.parse_args()

    target = urlsplit(args.url)
    run = uuid.uuid4().hex[:8]
    same = notification(run, 0, 1)
    bodies = (
        [same] * args.n
        if args.duplicates
        else [notification(run, i, args.groups) for i in range(args.n)]
    )
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {args.token}"}
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    next_index = iter(range(args.n))

    def sender() -> None:
        conn = None
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(
                        target.hostname, target.port or 80, timeout=30
                    )
                conn.request("POST", PATH, body=bodies[index], headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except OSError as exc:
                status = type(exc).__name__
                conn = None
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1

    threads = [threading.Thread(target=sender) for _ in range(args.c)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    ok = statuses.get(202, 0)
    errors = {str(k): v for k, v in statuses.items() if k != 202}
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    mode = (
        "duplicates" if args.duplicates else f"distinct (groups: {args.groups or 'one per alert'})"
    )
    print(f"mode            {mode}")
    print(f"notifications   {args.n} at concurrency {args.c} in {wall:.2f} s")
    print(f"alerts/s        {ok / wall:.0f}")
    print(f"latency p50     {quantiles[49] * 1000:.1f} ms")
    print(f"latency p99     {quantiles[98] * 1000:.1f} ms")
    print(f"latency max     {max(latencies) * 1000:.1f} ms")
    print(f"accepted (202)  {ok}")
    print(f"errors          {sum(errors.values())} {errors or ''}")


if __name__ == "__main__":
    main()
