"""Record requests: asking holders for records and chasing them until they arrive.

``config`` (record types, providers and people, from config/), ``lifecycle`` (statuses and transitions, matching what
comes back), ``dates`` (due dates), ``letters`` (rendering and storing letters and forms), ``mail`` (SMTP, sent once
through a ledger), ``sending``, ``inbox`` (what arrives, matched to its request) and ``chase`` (the overdue check).
"""
