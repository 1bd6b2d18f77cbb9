"""Demo: photo to 3D model in headless Blender with the built extension, then a lit render.

    .venv-bpy50/bin/python demo/run_demo.py --zip dist/yvo3d-0.1.0.zip --out out [--image p.png]

Uses Scenario's real API when SCENARIO_SDK_API_KEY and SCENARIO_SDK_API_SECRET are set (that
costs credits; a rerun with the same image imports the kept result for free), otherwise a
local stand-in of the API started here. Writes out/demo.png and out/demo.blend; with the real
API the job store and model library are kept in out/yvo3d/.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ADDON_MODULE = "bl_ext.user_default.yvo3d"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--zip", required=True, type=Path, help="the built extension zip")
    parser.add_argument("--out", default=Path("out"), type=Path, help="output folder")
    parser.add_argument("--image", type=Path, help="reference photo (default: one made in code)")
    parser.add_argument("--samples", type=int, default=24, help="Cycles samples")
    return parser.parse_args(argv)


def step(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def install(bpy: Any, zip_path: Path) -> None:
    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True
    )
    if result != {"FINISHED"} or ADDON_MODULE not in bpy.context.preferences.addons:
        raise SystemExit(f"the extension {zip_path} could not be installed and enabled")


def reference_image(out: Path, given: Path | None) -> Path:
    if given is not None:
        if not given.is_file():
            raise SystemExit(f"--image {given} does not exist")
        return given.resolve()
    from tests.media import png_bytes

    path = out / "reference.png"
    path.write_bytes(png_bytes(512, 512))
    return path


def model_objects(bpy: Any, name: str) -> list[Any]:
    collection = bpy.data.collections.get(name)
    return list(collection.all_objects) if collection is not None else []


def bounds(objects: list[Any]) -> tuple[Any, Any]:
    from mathutils import Vector

    points = [o.matrix_world @ Vector(c) for o in objects if o.type == "MESH" for c in o.bound_box]
    low = Vector(tuple(min(p[i] for p in points) for i in range(3)))
    high = Vector(tuple(max(p[i] for p in points) for i in range(3)))
    return low, high


def stage(bpy: Any, objects: list[Any]) -> None:
    """A floor, a camera framing the model, a sun, an area light and a soft world."""
    from mathutils import Vector

    scene = bpy.context.scene
    low, high = bounds(objects)
    centre = (low + high) / 2
    size = max((high - low)[:]) or 1.0

    bpy.ops.mesh.primitive_plane_add(size=size * 8, location=(centre.x, centre.y, low.z))
    floor = bpy.context.active_object
    floor.name = "Floor"
    floor_mat = bpy.data.materials.new("Floor")
    if floor_mat.node_tree is None:
        floor_mat.use_nodes = True
    bsdf = next(n for n in floor_mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (0.32, 0.33, 0.35, 1.0)
    bsdf.inputs["Roughness"].default_value = 0.8
    floor.data.materials.append(floor_mat)

    camera_data = bpy.data.cameras.new("Camera")
    camera_data.lens = 50
    camera = bpy.data.objects.new("Camera", camera_data)
    scene.collection.objects.link(camera)
    direction = Vector((1.0, -1.4, 0.75)).normalized()
    camera.location = centre + direction * size * 2.4
    camera.rotation_euler = (centre - camera.location).to_track_quat("-Z", "Y").to_euler()
    scene.camera = camera

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", type="SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(50), math.radians(10), math.radians(35))
    scene.collection.objects.link(sun)
    area = bpy.data.objects.new("Fill", bpy.data.lights.new("Fill", type="AREA"))
    area.data.energy = 60.0 * size * size
    area.data.size = size * 2
    area.location = centre + Vector((-1.5, -1.0, 1.2)) * size * 1.5
    area.rotation_euler = (centre - area.location).to_track_quat("-Z", "Y").to_euler()
    scene.collection.objects.link(area)

    sky(bpy, scene, 0.6)


def sky(bpy: Any, scene: Any, strength: float) -> None:
    """A soft blue-grey world light (the demo and the workflow pictures share it)."""
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    if world.node_tree is None:
        world.use_nodes = True
    background = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    background.inputs["Color"].default_value = (0.55, 0.6, 0.68, 1.0)
    background.inputs["Strength"].default_value = strength


def render(bpy: Any, path: Path, samples: int) -> None:
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = True
    try:
        scene.cycles.use_denoising = True
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    except (AttributeError, TypeError):
        scene.cycles.use_denoising = False  # no denoiser in this build: plain samples
    scene.render.resolution_x, scene.render.resolution_y = 640, 480
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)


def triangles(bpy: Any, objects: list[Any]) -> int:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    count = 0
    for obj in objects:
        if obj.type == "MESH":
            mesh = obj.evaluated_get(depsgraph).to_mesh()
            mesh.calc_loop_triangles()
            count += len(mesh.loop_triangles)
            obj.evaluated_get(depsgraph).to_mesh_clear()
    return count


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.monotonic()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    zip_path = args.zip.resolve()
    if not zip_path.is_file():
        raise SystemExit(f"--zip {zip_path} does not exist (build it: python build.py)")

    # Blender's user folder must be a throwaway one before bpy is imported.
    user = tempfile.mkdtemp(prefix="yvo3d-demo-blender-")
    os.environ["BLENDER_USER_RESOURCES"] = user
    real = bool(
        os.environ.get("SCENARIO_SDK_API_KEY") and os.environ.get("SCENARIO_SDK_API_SECRET")
    )
    # Real results are kept (a rerun imports them free); stand-in results must never be
    # mistaken for real ones, so they live and die with this run.
    library_home = out / "yvo3d" if real else Path(user) / "yvo3d-standin"
    os.environ["YVO3D_USER_DIR"] = str(library_home)
    sys.path.insert(0, str(ROOT))  # tests.standin and tests.media
    standin = None
    import bpy

    try:
        install(bpy, zip_path)
        prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
        if real:
            # Empty fields: the add-on reads SCENARIO_SDK_API_KEY / _SECRET from the environment.
            step("using Scenario's API (credits will be spent)")
        else:
            from tests.standin.server import StandIn

            os.environ["YVO3D_POLL_SECONDS"] = "0.3"
            standin = StandIn(large_glb=False, job_seconds=3.0).start()
            prefs.api_key, prefs.api_secret = standin.api_key, standin.api_secret
            prefs.service_url = standin.base_url
            os.environ.pop("SCENARIO_BASE_URL", None)
            step(f"using the local stand-in of Scenario's API at {standin.base_url}")
        bpy.context.preferences.system.use_online_access = True

        bpy.ops.wm.read_homefile(use_empty=True)
        image = reference_image(out, args.image)
        step(f"reference image: {image}")
        bpy.ops.yvo3d.add_images(filepath=str(image))
        settings = bpy.context.scene.yvo3d
        settings.name = "YVO3D Demo"
        bpy.context.scene.cursor.location = (0.0, 0.0, 0.0)

        step("generating (progress below)")
        try:
            result = bpy.ops.yvo3d.generate()
        except RuntimeError as exc:
            if "identical model" not in str(exc):
                step(f"generation failed: {str(exc).strip()}")
                return 1
            # A rerun with the same image: the library has it, so nothing is paid again.
            runtime = importlib.import_module(f"{ADDON_MODULE}.blender.session.runtime")
            step("an identical model is in the library: importing it (free)")
            result = bpy.ops.yvo3d.import_job(library_id=runtime.library_match["entry"])
        if result != {"FINISHED"}:
            step(f"generation ended with {result}")
            return 1
        objects = model_objects(bpy, settings.name)
        root = next(o for o in objects if o.parent is None)
        materials = sorted(
            {s.material.name for o in objects for s in o.material_slots if s.material}
        )

        step("lighting and rendering with Cycles on the CPU")
        stage(bpy, objects)
        render_started = time.monotonic()
        render(bpy, out / "demo.png", args.samples)
        render_seconds = time.monotonic() - render_started
        bpy.ops.wm.save_as_mainfile(filepath=str(out / "demo.blend"))

        print()
        print("YVO3D demo summary")
        print(f"  service     {'Scenario' if real else 'local stand-in'}")
        print(f"  job id      {root.get('yvo3d_job_id', '?')}")
        cost = root.get("yvo3d_cost")
        if cost is not None:
            print(f"  price       {cost:g} credits")
        if standin is not None:
            print(f"  paid calls  {standin.paid_requests}")
        print(f"  objects     {len(objects)} in collection {settings.name!r} (root {root.name!r})")
        print(f"  materials   {', '.join(materials) or 'none'}")
        print(f"  triangles   {triangles(bpy, objects)}")
        print(f"  render      {out / 'demo.png'} ({render_seconds:.1f} s)")
        print(f"  blend       {out / 'demo.blend'}")
        if real:
            print(f"  library     {library_home / 'library'}")
        print(f"  elapsed     {time.monotonic() - started:.1f} s")
        return 0
    finally:
        import addon_utils

        if ADDON_MODULE in bpy.context.preferences.addons:
            addon_utils.disable(ADDON_MODULE)  # stops the add-on's threads
        if standin is not None:
            standin.stop()
        shutil.rmtree(user, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
