"""Blender layer: the add-on preferences (credentials, service, library, import clean-up).

Where a model goes and how it fits are the panel's Placement and Fit (scene settings): the
preferences hold no second, unread copy of them."""

import os

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .import_options import Options, YVO3D_PG_import_options, draw_options, options_of

# Preferences are keyed by the installed base package (bl_ext.<repo>.yvo3d); this module
# lives two levels below it (<base>.blender.settings).
BASE_PACKAGE = (__package__ or "").rsplit(".", 2)[0]

DEFAULT_SERVICE_URL = "https://api.cloud.scenario.com/v1"
KEYS_URL = "https://app.scenario.com/settings/api"
"""Scenario's API keys page (create a key and secret there)."""
ENV_API_KEY = "SCENARIO_SDK_API_KEY"
ENV_API_SECRET = "SCENARIO_SDK_API_SECRET"
ENV_BASE_URL = "SCENARIO_BASE_URL"
TEST_CONNECTION_OPERATOR = "yvo3d.test_connection"


class YVO3D_AddonPreferences(bpy.types.AddonPreferences):
    """Settings for YVO3D: credentials, service, library and import defaults."""

    bl_idname = BASE_PACKAGE

    api_key: StringProperty(
        name="API Key",
        description="Scenario API key (stored in your Blender preferences, never in a .blend)",
        default="",
        subtype="PASSWORD",
    )
    api_secret: StringProperty(
        name="API Secret",
        description="Scenario API secret (stored in your Blender preferences, never in a .blend)",
        default="",
        subtype="PASSWORD",
    )
    project_id: StringProperty(
        name="Project ID",
        description="Optional Scenario project id (proj_...); a project key already implies it",
        default="",
    )
    budget_session: FloatProperty(
        name="Budget per Session",
        description=(
            "Credits this Blender session may spend; Generate refuses a request that would go "
            "over it (0: no limit)"
        ),
        default=0.0,
        min=0.0,
        soft_max=10000.0,
        step=100,
        precision=0,
    )
    budget_day: FloatProperty(
        name="Budget per Day",
        description=(
            "Credits all YVO3D runs (panel and command line) may spend today; Generate refuses "
            "a request that would go over it (0: no limit)"
        ),
        default=0.0,
        min=0.0,
        soft_max=100000.0,
        step=100,
        precision=0,
    )
    service_url: StringProperty(
        name="Service URL",
        description=(
            "Base URL of the Scenario API, including /v1 "
            f"(the {ENV_BASE_URL} environment variable overrides it)"
        ),
        default=DEFAULT_SERVICE_URL,
    )
    library_dir: StringProperty(
        name="Library Folder",
        description="Where downloaded models are kept (empty: the extension's own user folder)",
        default="",
        subtype="DIR_PATH",
    )
    images_mode: EnumProperty(
        name="Textures",
        description="How the model's texture images are kept",
        items=(
            ("PACK", "Pack into .blend", "Pack the textures into the .blend file"),
            (
                "BESIDE",
                "Save Beside .blend",
                "Save the textures in a textures/ folder next to the saved .blend "
                "(packed until the .blend has been saved)",
            ),
        ),
        default="PACK",
    )
    poll_seconds_max: FloatProperty(
        name="Longest Poll Interval (s)",
        description="Longest wait between two status checks of a running job, in seconds",
        default=10.0,
        min=2.0,
        max=120.0,
    )
    max_download_mb: IntProperty(
        name="Maximum Download (MB)",
        description="Largest result file the add-on downloads; a bigger one is refused and "
        "the job can be resumed after raising this",
        default=2048,
        min=16,
        max=65536,
    )
    ca_bundle: StringProperty(
        name="CA Bundle",
        description=(
            "A .pem file of certificate authorities to trust for HTTPS, for networks whose "
            "proxy inspects TLS (empty: the usual public authorities)"
        ),
        default="",
        subtype="FILE_PATH",
    )
    import_options: PointerProperty(
        type=YVO3D_PG_import_options,
        name="Import Clean-up",
        description="The clean-up preset applied to every imported model",
    )
    show_advanced: BoolProperty(
        name="Show Advanced",
        description="Show the service URL, CA bundle and polling settings",
        default=False,
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False

        box = layout.box()
        box.label(text="Credentials", icon="LOCKED")
        box.prop(self, "api_key")
        box.prop(self, "api_secret")
        box.prop(self, "project_id")
        row = box.row(heading="Budget")
        row.prop(self, "budget_session", text="Session")
        row.prop(self, "budget_day", text="Day")
        hint = box.row()
        hint.label(text="Create a key and secret on Scenario's API keys page")
        hint.operator("wm.url_open", text="Open API Keys Page", icon="URL").url = KEYS_URL
        if not (self.api_key.strip() and self.api_secret.strip()):
            found = "found" if _env_credentials() else "not set"
            box.label(text=f"Empty: {ENV_API_KEY} / {ENV_API_SECRET} are used ({found})")
        if operator_registered(TEST_CONNECTION_OPERATOR):
            box.operator(TEST_CONNECTION_OPERATOR, icon="PLUGIN")

        box = layout.box()
        box.label(text="Library", icon="ASSET_MANAGER")
        box.prop(self, "library_dir")

        box = layout.box()
        box.label(text="Import", icon="IMPORT")
        box.prop(self, "images_mode")
        draw_options(box, self.import_options, scene=False)

        box = layout.box()
        box.prop(self, "show_advanced")
        if self.show_advanced:
            box.prop(self, "service_url")
            if os.environ.get(ENV_BASE_URL, "").strip():
                box.label(text=f"Overridden by {ENV_BASE_URL}", icon="INFO")
            box.prop(self, "ca_bundle")
            box.prop(self, "poll_seconds_max")
            box.prop(self, "max_download_mb")


def operator_registered(idname: str) -> bool:
    """Whether an operator such as "yvo3d.test_connection" is registered right now."""
    category, _, name = idname.partition(".")
    try:
        getattr(getattr(bpy.ops, category), name).get_rna_type()
    except (AttributeError, KeyError):
        return False
    return True


def get_prefs(context: bpy.types.Context) -> YVO3D_AddonPreferences | None:
    """The add-on's preferences, or None when the add-on is not enabled."""
    found = getattr(context, "preferences", None)  # a context override may not carry them
    addon = found.addons.get(BASE_PACKAGE) if found else None
    if addon is None:
        return None
    prefs = addon.preferences
    return prefs if isinstance(prefs, YVO3D_AddonPreferences) else None


def _env_credentials() -> tuple[str, str] | None:
    key = os.environ.get(ENV_API_KEY, "").strip()
    secret = os.environ.get(ENV_API_SECRET, "").strip()
    return (key, secret) if key and secret else None


CREDENTIALS_HINT = (
    "Add your Scenario API key and secret in Preferences > Add-ons > YVO3D, or set "
    f"{ENV_API_KEY} and {ENV_API_SECRET} in the environment"
)
"""Every "no credentials" message: it names both ways."""


def credentials(context: bpy.types.Context) -> tuple[str, str] | None:
    """(api key, api secret): the preference fields when both are filled in, else the
    environment (SCENARIO_SDK_API_KEY / SCENARIO_SDK_API_SECRET), else None. The one lookup
    the panel, the operators and the command line share."""
    prefs = get_prefs(context)
    if prefs is not None:
        key, secret = prefs.api_key.strip(), prefs.api_secret.strip()
        if key and secret:
            return key, secret
    return _env_credentials()


def effective_import_options(context: bpy.types.Context) -> Options:
    """The options an import into the context's scene uses: the scene's override, else the
    preset in the preferences, else the defaults."""
    scene = getattr(context, "scene", None)
    override = getattr(scene, "yvo3d_import", None) if scene is not None else None
    if override is not None and override.use_override:
        return options_of(override)
    prefs = get_prefs(context)
    group = getattr(prefs, "import_options", None) if prefs is not None else None
    return options_of(group) if group is not None else Options()


def service_url_effective(context: bpy.types.Context) -> str:
    """The API base URL: $SCENARIO_BASE_URL, else the preference, else Scenario's."""
    url = os.environ.get(ENV_BASE_URL, "").strip()
    if not url:
        prefs = get_prefs(context)
        url = prefs.service_url.strip() if prefs is not None else ""
    return (url or DEFAULT_SERVICE_URL).rstrip("/")


def ca_bundle_path(context: bpy.types.Context) -> str:
    """The chosen CA bundle as an absolute path, or '' for the default authorities."""
    prefs = get_prefs(context)
    path = prefs.ca_bundle.strip() if prefs is not None else ""
    return os.path.normpath(bpy.path.abspath(path)) if path else ""


def library_path(context: bpy.types.Context) -> str:
    """The folder holding downloaded models (created on demand for the default one)."""
    prefs = get_prefs(context)
    custom = prefs.library_dir.strip() if prefs is not None else ""
    if custom:
        return os.path.normpath(bpy.path.abspath(custom))
    return str(bpy.utils.extension_path_user(BASE_PACKAGE, path="library", create=True))


# The preset's property group before the preferences that point to it.
classes = (YVO3D_PG_import_options, YVO3D_AddonPreferences)
