"""Blender layer: the add-on preferences (credentials, service, library, import clean-up).

Where a model goes and how it fits are the panel's Placement and Fit (scene settings): the
preferences hold no second, unread copy of them."""

import os

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, PointerProperty, StringProperty

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

    use_env_credentials: BoolProperty(
        name="Use Environment Variables",
        description=(
            f"Read the API key and secret from {ENV_API_KEY} / {ENV_API_SECRET} "
            "in the environment instead of the fields below"
        ),
        default=False,
    )
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
        box.prop(self, "use_env_credentials")
        fields = box.column()
        fields.enabled = not self.use_env_credentials
        fields.prop(self, "api_key")
        fields.prop(self, "api_secret")
        box.prop(self, "project_id")
        hint = box.row()
        hint.label(text="Create a key and secret on Scenario's API keys page")
        hint.operator("wm.url_open", text="Open API Keys Page", icon="URL").url = KEYS_URL
        if self.use_env_credentials and not _env_credentials():
            box.label(text=f"{ENV_API_KEY} / {ENV_API_SECRET} are not set", icon="ERROR")
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
    addon = context.preferences.addons.get(BASE_PACKAGE) if context.preferences else None
    if addon is None:
        return None
    prefs = addon.preferences
    return prefs if isinstance(prefs, YVO3D_AddonPreferences) else None


def _env_credentials() -> tuple[str, str] | None:
    key = os.environ.get(ENV_API_KEY, "").strip()
    secret = os.environ.get(ENV_API_SECRET, "").strip()
    return (key, secret) if key and secret else None


def credentials(context: bpy.types.Context) -> tuple[str, str] | None:
    """(api key, api secret) from the environment or the fields, per preference; else None."""
    prefs = get_prefs(context)
    if prefs is None:
        return None
    if prefs.use_env_credentials:
        return _env_credentials()
    key, secret = prefs.api_key.strip(), prefs.api_secret.strip()
    return (key, secret) if key and secret else None


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
