from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from knox.models import get_token_model

from clipanalysis.access_groups import ensure_catalog_writers_group


class Command(BaseCommand):
    help = (
        "Create an API token for USER and print it once (only its SHA-512 digest is stored). "
        "It expires after API_TOKEN_TTL_DAYS unless --days says otherwise."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", metavar="USER")
        parser.add_argument(
            "--days", type=int, default=None, help="Days until it expires (default: the setting)."
        )
        parser.add_argument(
            "--create-user",
            action="store_true",
            help="Create USER (no password, no admin access) if it does not exist.",
        )
        parser.add_argument(
            "--writer",
            action="store_true",
            help='Put USER in the "Catalog systems" group (may write products and images).',
        )

    def handle(self, *args, username: str, days, create_user: bool, writer: bool, **options):
        if "\x00" in username or not username.strip():
            raise CommandError("USER must be a user name.")
        if days is not None and not 1 <= days <= 3650:
            raise CommandError("--days must be between 1 and 3650.")
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            if not create_user:
                raise CommandError(f"No user {username!r} (add --create-user to create one).")
            user = users.create_user(username)
        if writer:
            user.groups.add(ensure_catalog_writers_group())
        expiry = {} if days is None else {"expiry": timedelta(days=days)}
        token, key = get_token_model().objects.create(user=user, **expiry)
        self.stdout.write(key)
        when = token.expiry.isoformat(timespec="minutes") if token.expiry else "never"
        self.stderr.write(
            f"Token for {user.get_username()}, expires {when}. It is shown only now: "
            "store it in the catalog system's secrets."
        )
