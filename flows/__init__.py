"""The adapters over the library in tasks/: Prefect flows and their deployments, and the command line (``cli``).

A flow is a short script of library stages, each wrapped as a Prefect task with its retry rule; parameters, results,
run names and artifacts carry ids, counts and hashes only.
"""
