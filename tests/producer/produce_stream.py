"""A stand-alone producer of plain JSON requests on the Redis Stream, written as a service that is
not Python-Celery would write one: it needs only `redis` (redis-py) and imports nothing from
salesaga (tests/e2e/test_message_producer.py). The same as

    redis-cli XADD salesaga:requests '*' task salesaga.create_sales message '{"message_id": …}'

    python produce_stream.py --redis redis://localhost:6379/0 --message '{"message_id": …}' \
        [--task salesaga.start_saga] [--times 2] [--raw-field body=…] [--replies orders.replies]

Prints {"entry": "<id>"} per entry added, then with --replies STREAM one {"reply": {…}} line per
reply read from that stream (it waits for --expect of them).
"""

from __future__ import annotations

import argparse
import json
import sys

import redis


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--stream", default="salesaga:requests")
    parser.add_argument("--task", help="the task field (default: none, i.e. create_sales)")
    parser.add_argument("--message", help="the message field: the JSON message")
    parser.add_argument("--raw-field", action="append", default=[], help="NAME=VALUE, as is")
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--replies", help="read replies from this stream")
    parser.add_argument("--expect", type=int, default=1, help="replies to wait for")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    # above XREAD's block: redis-py 8 gives up on a silent socket after 5 s by default
    client = redis.Redis.from_url(args.redis, socket_timeout=args.timeout + 30)
    fields: dict[str, str] = dict(item.split("=", 1) for item in args.raw_field)
    if args.task:
        fields["task"] = args.task
    if args.message is not None:
        fields["message"] = args.message
    for _ in range(args.times):
        entry = client.xadd(args.stream, fields)
        sys.stdout.write(json.dumps({"entry": entry.decode()}) + "\n")
    if args.replies:
        for reply in read_replies(client, args.replies, args.expect, args.timeout):
            sys.stdout.write(json.dumps({"reply": reply}) + "\n")
    return 0


def read_replies(client: redis.Redis, stream: str, expect: int, timeout: float) -> list[dict]:
    got: list[dict] = []
    last = "0"
    while len(got) < expect:
        answer = client.xread({stream: last}, count=expect, block=int(timeout * 1000))
        if not answer:
            raise SystemExit(f"no reply on {stream} within {timeout} s ({len(got)} of {expect})")
        for entry_id, fields in answer[0][1]:
            last = entry_id
            got.append(json.loads(fields[b"reply"]))
    return got


if __name__ == "__main__":
    sys.exit(main())
