"""Staff who sign in to the web page, and what the organisation must know about them.

``users`` (people, roles staff | advocate | admin and what each may do, argon2 password hashes), ``sessions`` (signing
in with a rate limit, sessions that expire, signing out), ``audit`` (downloads and failed access as audit events in the
catalog, and the trail an admin reads), ``overview`` (what the page shows of a case: deadline, documents, requests,
packet builds), ``downloads`` (packet parts served only when the manifest is there and the bytes match it),
``uploads`` (files streamed to disk under limits, then the one ingest path) and ``jobs`` (flow runs started from the
page and their state). The web adapter is flows/web; the commands `casefile user ...` are flows/cli/users.py.
"""
