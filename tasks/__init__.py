"""casefile's library: one subpackage per capability, each a set of plain typed functions, plus a small core.

- ``core``: settings, errors, the catalog (database), the object store, the runtime that bundles them, templates.
- ``cases``: what an advocate types for a case, and its filing deadline.
- ``documents``: intake, text and OCR, language; ``documents.pipeline`` holds the ingest order.
- ``search``: the query language and the full-text index.
- ``packets``: exhibit lists, translations, filing profiles, building and checking exhibit packets.
- ``requests``: record requests, their letters, mail, the inbox and the overdue check.
- ``demo``: the fictional data and the mail sink of `casefile demo` (no capability imports it).

Stages take the runtime (``core.runtime.Runtime``) first; Prefect and the command line live in ``flows``.
"""
