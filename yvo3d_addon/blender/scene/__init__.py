"""Scene layer: functions on Blender data (import, placement and fitting, takes, clean-up,
capture, assets, images as files), composed by `pipeline`. They take their inputs (folders,
options, secrets to scrub) as arguments and return results; they hold no process state. May
import `settings` and `core`; never `session`, `ops` or `ui`.
"""
