from django.apps import AppConfig


class VideogenConfig(AppConfig):
    name = "videogen"
    verbose_name = "Video generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from videogen import checks, receivers, signals  # noqa: F401  (registers them)
        from videogen.conf import videogen_settings

        # Fail at startup (every process: web workers, qcluster, commands) with the bad key
        # named, not at the first request: system checks never run under gunicorn.
        videogen_settings.validate()
        post_migrate.connect(_ensure_schedules, sender=self)
        _admin_index_with_overview()


def _admin_index_with_overview() -> None:
    # The admin index shows videogen's overview (spend, jobs by status, attention) unless the
    # site chose its own index template. Set here, not by overriding admin/index.html: that
    # template is django.contrib.admin's own, found first when admin is listed before us.
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib import admin

    if admin.site.index_template is None:
        admin.site.index_template = "admin/videogen/index.html"


def _ensure_schedules(sender, using="default", **kwargs) -> None:
    # After every migrate: our schedules exist exactly once (update_or_create by name).
    from django.db import DEFAULT_DB_ALIAS

    if using != DEFAULT_DB_ALIAS:
        return
    from videogen.services.schedules import schedules_ensure

    schedules_ensure()
