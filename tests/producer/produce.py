"""A stand-alone producer, written as another service would write one: it needs only `celery`
and the broker URL, and imports nothing from salesaga (tests/e2e/test_message_producer.py).

    python produce.py --broker redis://localhost:6379/0 --task salesaga.create_sales \
        --message-id order-2026-0001 \
        --body '{"contactId": "5504…", "products": [{"productId": "5504…", "quantity": 2}]}'

Prints one JSON line per message sent: the start task's result, e.g.
{"sagaId": "…", "status": "accepted"}, or {"status": "dead_letter", "deadLetterId": 3,
"reason": "…"}.
"""

from __future__ import annotations

import argparse
import json
import sys

from celery import Celery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--backend", help="result backend (default: the broker URL)")
    parser.add_argument("--task", default="salesaga.create_sales")
    parser.add_argument("--queue", default="celery", help="the service's CELERY_QUEUE")
    parser.add_argument("--body", required=True, help="the message's keyword arguments (JSON)")
    parser.add_argument("--message-id", help="added to the body as message_id")
    parser.add_argument("--times", type=int, default=1, help="send the same message this often")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    app = Celery("producer", broker=args.broker, backend=args.backend or args.broker)
    kwargs = json.loads(args.body)
    if args.message_id is not None:
        kwargs["message_id"] = args.message_id
    sent = [app.send_task(args.task, kwargs=kwargs, queue=args.queue) for _ in range(args.times)]
    for result in sent:
        sys.stdout.write(json.dumps(result.get(timeout=args.timeout)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
