"""A home's health check (`casefile check`), across capabilities: every document's stored objects against their
SHA-256, intake batches left by killed runs, objects nothing refers to, packet builds left unfinished or damaged,
work folders and temporary files of killed runs, and the programs the pipeline needs. ``doctor`` reports, and with
``repair`` fixes what can be fixed from what is stored; it never deletes evidence.
"""
