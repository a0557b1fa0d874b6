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


def _ensure_schedules(sender, using="default", **kwargs) -> None:
    # After every migrate: our schedules exist exactly once (update_or_create by name).
    from django.db import DEFAULT_DB_ALIAS

    if using != DEFAULT_DB_ALIAS:
        return
    from videogen.services.schedules import schedules_ensure

    schedules_ensure()
