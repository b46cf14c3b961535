"""The staff web page: an adapter over the library, like the command line.

``app`` builds the FastAPI application (``create_app``); ``pages`` holds its routes, server-rendered from
templates/web/ through the one Jinja2 environment (autoescape, StrictUndefined, gettext); ``security`` the session
cookie, CSRF, role checks, security headers and an access log without client data; ``uploads`` the streaming
multipart reader; ``runs`` starts flow runs (through the deployment when `casefile serve` runs, else in a worker
thread); ``i18n`` English and Spanish from the message catalogs in ``locale/``. Business state is tasks/staff's.
"""
