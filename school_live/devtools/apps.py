from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The demo and the benchmarks: installed only where developer tools are (settings.DEVTOOLS)."""

    name = "school_live.devtools"
    label = "devtools"
