from django.core.management.base import BaseCommand, CommandError

from videogen.provider.errors import ProviderError
from videogen.services.catalog import catalog_sync


class Command(BaseCommand):
    help = "Sync the video model catalog from the provider's GET /videos/models."

    def handle(self, *args, **options):
        try:
            result = catalog_sync()
        except ProviderError as err:
            raise CommandError(f"Could not fetch the model catalog: {err}") from err
        if result.empty_answer:
            self.stderr.write(self.style.WARNING(f"Model catalog not synced: {result}."))
            return
        self.stdout.write(self.style.SUCCESS(f"Model catalog synced: {result}."))
