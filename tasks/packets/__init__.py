"""Exhibit packets: the exhibit list and translations, filing profiles, and building and checking the packet PDF.

``exhibits`` (the plan an advocate edits), ``translations`` (English translations and their certificates' data),
``profile`` (the typed filing profile), ``build`` (gather, plan pages, assemble, check, store), ``layout`` (placing
and stamping exhibit pages), ``manifest`` (stored builds: list, download, results), ``check`` (the pre-filing check)
and ``qpdf_child`` (``qpdf --check`` in a child process of the check).
"""
