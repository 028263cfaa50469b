"""checkov checks for what its Bicep checks lack (run by `make infra-check`).

checkov loads every module here through ``--external-checks-dir infra/checks``; it
needs this file to treat the folder as a package, and the classes must subclass the
Bicep base class (an ARM subclass is silently ignored).
"""
