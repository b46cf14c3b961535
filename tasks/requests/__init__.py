"""Record requests: asking holders for records and chasing them until they arrive.

``config`` (record types, providers and people, from config/), ``status`` (statuses and transitions), ``dates``
(due dates), ``lifecycle`` (session-level: changing a request, matching what comes back), ``letters`` (rendering and
storing letters and forms), ``mail`` (SMTP, sent once through a ledger); the stages, which take the runtime first:
``sending`` (new, send), ``tracking`` (show, list, update), ``receiving`` (receive, the inbox list, assign),
``inbox`` (what arrives, matched to its request), ``chase`` (the overdue check, and its dry run for another day)
and ``scheduled`` (the outcome of each scheduled run, and telling someone when one fails).
"""
