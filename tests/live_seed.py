"""Seed a live test server's database (run as a script by ``tests/live_server.py``).

Prints one JSON line: the tokens of each persona and the ids made.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django_q.conf import Conf  # noqa: E402
from knox.models import AuthToken  # noqa: E402

from clipanalysis.access_groups import ensure_catalog_writers_group  # noqa: E402
from clipanalysis.models import ModelVersion, ReviewItem  # noqa: E402
from clipanalysis.registry import active_model  # noqa: E402
from clipanalysis.review import ensure_reviewers_group  # noqa: E402
from tests.factories import add_image, make_product  # noqa: E402


def main() -> None:
    Conf.SYNC = True  # analyse inline while seeding: the review queue gets items
    model_version = active_model()
    ModelVersion.objects.filter(pk=model_version.pk).update(threshold=1.5)  # all flagged
    admin = User.objects.create_superuser("admin", "admin@example.com", "admin-pass-123")
    writer = User.objects.create_user("pim", "pim@example.com", "pim-pass-123")
    writer.groups.add(ensure_catalog_writers_group())
    reviewer = User.objects.create_user("rita", "rita@example.com", "rita-pass-123", is_staff=True)
    reviewer.groups.add(ensure_reviewers_group())
    reader = User.objects.create_user("dashboard", "dash@example.com", "dash-pass-123")
    products = [make_product(f"Red cotton t-shirt {i}", sku=f"LIVE-{i}") for i in range(3)]
    images = [add_image(product) for product in products]
    tokens = {
        name: AuthToken.objects.create(user=user)[1]
        for name, user in [
            ("admin", admin),
            ("writer", writer),
            ("reviewer", reviewer),
            ("reader", reader),
        ]
    }
    print(
        json.dumps(
            {
                "tokens": tokens,
                "products": [product.pk for product in products],
                "images": [image.pk for image in images],
                "review_items": list(ReviewItem.objects.values_list("pk", flat=True)),
            }
        )
    )


if __name__ == "__main__":
    main()
