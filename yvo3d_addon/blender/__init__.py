"""The thin bpy layer of the YVO3D add-on."""
