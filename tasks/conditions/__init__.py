"""conditions: the organisation's country-conditions library, and each case's bundle of cited passages.

- ``library``: reports taken in like case documents (``documents.normalise`` and ``documents.text``: originals kept
  byte for byte, deduplicated by SHA-256, scans OCR'd, word boxes), each one edition of a series (country ISO
  3166, publisher, series, edition, publication date, URL, access date, language), never edited; web pages
  archived as PDF (``archive``); staleness (superseded by a newer edition, or old); translations of sources.
- ``index``: the library's own full-text index (the search backend, a file of its own, filtered by country).
- ``config``: topics and legal elements, countries, ranking weights and the bundle's drawing (config/conditions/).
- ``passages``: words, sentences, quotes and their boxes on a page.
- ``propose`` (ranked passages for a case, written as an editable YAML selection), ``selection`` (the edited file,
  checked line by line), ``compare`` (what one edition of a series has that another has not).
- ``bundle``: the selection rendered, frozen in the object store: marked excerpts with their citations, an index by
  legal element, a manifest of every source's SHA-256 and edition.
- ``packet``: what the packet builder asks for: the bundle's numbered exhibits and its index with the final page
  numbers.

The library holds no client data: a case's bundle refers to it by ids and hashes.
"""
