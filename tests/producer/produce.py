"""A stand-alone producer, written as another service would write one: it needs only `celery`
and the broker URL, and imports nothing from salesaga (tests/e2e/test_message_producer.py).

    python produce.py --broker redis://localhost:6379/0 --task salesaga.create_sales \
        --message-id order-2026-0001 \
        --body '{"contactId": "5504…", "products": [{"productId": "5504…", "quantity": 2}]}'

Prints one JSON line per message sent: the start task's result, e.g.
{"sagaId": "…", "status": "accepted"}, or {"status": "dead_letter", "deadLetterId": 3,
"reason": "…"}. With --reply-queue NAME the messages ask for replies on that queue, and one
line {"reply": {…}} follows per saga started, as the service sends it when the saga ends.
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
    parser.add_argument("--reply-queue", help="ask for replies on this queue and wait for them")
    parser.add_argument("--reply-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    app = Celery("producer", broker=args.broker, backend=args.backend or args.broker)
    kwargs = json.loads(args.body)
    if args.message_id is not None:
        kwargs["message_id"] = args.message_id
    if args.reply_queue:
        kwargs["reply_to"] = args.reply_queue
    sent = [app.send_task(args.task, kwargs=kwargs, queue=args.queue) for _ in range(args.times)]
    results = [result.get(timeout=args.timeout) for result in sent]
    for result in results:
        sys.stdout.write(json.dumps(result) + "\n")
    if args.reply_queue:
        sagas = {r["sagaId"] for r in results if "sagaId" in r}
        for reply in replies(app, args.reply_queue, len(sagas), args.reply_timeout):
            sys.stdout.write(json.dumps({"reply": reply}) + "\n")
    return 0


def replies(app: Celery, queue: str, count: int, timeout: float) -> list[dict]:
    """Read `count` replies from the reply queue on the same broker (kombu comes with celery)."""
    got = []
    with app.connection_for_read() as conn, conn.SimpleQueue(queue) as incoming:
        for _ in range(count):
            message = incoming.get(timeout=timeout)
            got.append(message.payload)
            message.ack()
    return got


if __name__ == "__main__":
    sys.exit(main())
