"""Identity and access: staff users and sessions, machine clients, roles bound to regions, and the one
region-scoping rule every query goes through (:mod:`dtsen.auth.scope`)."""
