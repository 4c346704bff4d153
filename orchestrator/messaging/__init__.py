"""Starting sagas from queue messages (docs/messaging.md): the contract, dead letters, replay.

  contract.py      public task names; a message checked exactly as the HTTP API checks a body
  dead_letters.py  the dead_letter table: record, list, load, mark replayed
  intake.py        accept(): a message → a started saga or a dead letter; replay() after a fix
  cli.py           `salesaga messages dead-letters | show ID | replay ID`

The Celery tasks themselves are thin shells in workers/messages.py.
"""
