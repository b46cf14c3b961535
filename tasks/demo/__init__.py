"""`casefile demo`: fictional sample files (``data/``, shipped with the package), the demo's scenario, and a mail sink
on loopback so the demo never mails anyone. No capability imports this package."""
