"""Exhibit packets: the exhibit list and translations, filing profiles, and building and checking the packet PDF.

``exhibits`` (the plan an advocate edits), ``build`` (gather, lay out, assemble, check, store), ``layout`` (placing
and stamping exhibit pages), ``check`` (the pre-filing check) and ``qpdf`` (``qpdf --check`` in a child process).
"""
