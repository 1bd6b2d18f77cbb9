"""UI layer: panels, menus and the status bar. Draw only: a draw reads settings and the
session's in-memory state, never files or the network, and starts nothing. May import `ops`
(operator ids and small helpers), `session`, `scene`, `settings` and `core`.
"""
