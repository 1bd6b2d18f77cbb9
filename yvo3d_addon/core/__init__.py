"""Blender-free core of the YVO3D add-on: API client, parameter rules, jobs, store, library."""
