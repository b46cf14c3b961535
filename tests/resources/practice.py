"""A fictional practice that looks like a real one ("Harbor Immigrant Legal Services"), for tests that file through
the commands: the packaged sample practice is refused by every build, as a real filing must refuse it.

`casefile practice init --no-input` takes PRACTICE_FLAGS (the organisation and its attorney, who signs
electronically) and HARBOR_DHS (the DHS office served for the cases' court)."""

PRACTICE_FLAGS = (
    "--name", "Harbor Immigrant Legal Services",
    "--address", "12 Harbor Lane, Suite 3; Brooklyn, NY 11201",
    "--phone", "(718) 200-3000",
    "--email", "intake@harborlegal.test",
    "--person", "lnavarro",
    "--person-name", "Lucia Navarro",
    "--role", "attorney",
    "--eoir-id", "ZX123456",
    "--person-email", "lnavarro@harborlegal.test",
    "--signature", "electronic",
)  # fmt: skip
HARBOR_DHS = (
    "--court", "New York, NY (Broadway)",
    "--dhs-office", "U.S. Immigration and Customs Enforcement, Office of the Principal Legal Advisor - New York",
    "--dhs-address", "Office of the Chief Counsel; 26 Harbor Plaza, Room 100; New York, NY 10278",
)  # fmt: skip
