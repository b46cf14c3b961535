"""A practice's shared deployment: moving an embedded home into PostgreSQL and S3 (``migration``) and checking that
every part of a deployment answers (``check``)."""
