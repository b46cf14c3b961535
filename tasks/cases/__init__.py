"""Cases: validating what an advocate types (A-number, dates, hearing), creating a case, its filing deadline."""
