"""The small HTML page every sandbox shows for one record (what `record_url` links to in dev):
a title, what the record is, and its fields in a table — every value escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable


def record_page(crm: str, title: str, what: str, fields: Iterable[tuple[str, object]]) -> str:
    """`crm` "Poologics"; `title` the record's name; `what` e.g. "Opportunity 493"."""
    cells = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(_shown(value))}</td></tr>"
        for name, value in fields
    )
    body = f"<h1>{html.escape(title)}</h1><p>{html.escape(what)}</p><table>{cells}</table>"
    return html_document(crm, title, body)


def html_document(crm: str, title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · {html.escape(crm)} sandbox</title></head>"
        f"<body>{body}</body></html>"
    )


def _shown(value: object) -> str:
    return "—" if value is None or value == "" else str(value)
