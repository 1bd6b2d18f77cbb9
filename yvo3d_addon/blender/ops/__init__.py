"""Operators layer: operators, the modal job follower, app handlers and the command line. Thin:
each turns a user action into calls to the session and the scene code, and reports. May import
`session`, `scene`, `settings` and `core`; never `ui`.
"""
