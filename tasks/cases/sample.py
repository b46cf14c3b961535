"""The fictional sample case's identity: the client of the demo's data (tasks/demo/data), never a real person.

Kept here, below the capabilities that recognise it (the demo creates it; the staff page builds it for the
packaged fictional practice while a home has no practice of its own)."""

from __future__ import annotations

DEMO_CLIENT = "Maria Fernanda Quiroga Test"  # fictional, like everything in the demo's data
DEMO_A_NUMBER = "123-456-789"


def is_sample_case(client_name: str, a_number: str) -> bool:
    """Whether a case's client is the fictional sample client (its name and A-number exactly)."""
    from .case import normalise_a_number

    return client_name == DEMO_CLIENT and a_number == normalise_a_number(DEMO_A_NUMBER)
