"""Session layer: the process state of one Blender session: the job manager, the pricer, the
credentials snapshot, folders, slot thumbnails, messages for the next tick. The only holder of
state that outlives an operator. May import `scene`, `settings` and `core`; never `ops` or `ui`.
"""
