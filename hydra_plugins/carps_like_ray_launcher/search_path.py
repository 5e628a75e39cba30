"""A SearchPathPlugin that leaves the search path alone: Hydra calls it in the driver after plugin
discovery and before composing, the one place a plugin can set a lasting warnings filter."""
from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from . import quiet_launcher_schema_warning


class CarpsLikeLauncherWarnings(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        quiet_launcher_schema_warning()
