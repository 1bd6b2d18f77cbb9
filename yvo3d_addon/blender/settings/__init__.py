"""Settings layer: add-on preferences and scene / window-manager properties, with their rules
and their own drawing helpers. Data only: nothing here starts work; a change of the scene's
settings calls the one hook the session plugs in (`properties.on_change`). Imports only `core`.
"""
