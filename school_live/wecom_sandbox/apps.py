from django.apps import AppConfig


class WecomSandboxConfig(AppConfig):
    """The fake WeCom: installed only where developer tools are (settings.DEVTOOLS), for its
    ``wecom_sandbox`` command; tests import the package directly."""

    name = "school_live.wecom_sandbox"
    label = "wecom_sandbox"
