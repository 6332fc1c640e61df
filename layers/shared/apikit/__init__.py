"""apikit: what every API route function shares (responses, errors, auth, validation, data access).

Modules are imported where used, not here, so a function pays only for what it needs at cold start.
"""
