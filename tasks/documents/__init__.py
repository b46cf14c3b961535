"""Documents of a case, from a file on disk to searchable pages.

``intake`` (preflight, hash, keep the original byte for byte, normalise to PDF, record pages), ``text`` (page text from
text layers or OCR), ``split`` (OCR of a long document in page ranges, each recorded once, for a work pool's workers),
``ocr`` and its one external tool ``tesseract``, ``language`` (language identification), and ``pipeline``: the ingest
order (files, then text, then the index) in one place, for every caller.
"""
