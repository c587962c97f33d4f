"""Moving ``ModelVersion`` from ``training`` to ``clipanalysis`` keeps every row and link."""

import pytest

BEFORE = [("clipanalysis", "0003_reviewers_group"), ("training", "0003_fit_calibrations_schedule")]
AFTER = [
    ("clipanalysis", "0005_modelversion_table_name"),
    ("training", "0004_modelversion_moves_to_clipanalysis"),
]


@pytest.mark.django_db(transaction=True)
def test_model_versions_and_their_results_survive_the_move(migrator):
    old = migrator.apply_initial_migration(BEFORE)
    OldModelVersion = old.apps.get_model("training", "ModelVersion")
    Product = old.apps.get_model("catalog", "Product")
    ProductImage = old.apps.get_model("catalog", "ProductImage")
    AnalysisResult = old.apps.get_model("clipanalysis", "AnalysisResult")
    ImageEmbedding = old.apps.get_model("clipanalysis", "ImageEmbedding")
    ContentType = old.apps.get_model("contenttypes", "ContentType")
    ContentType.objects.get_or_create(app_label="training", model="modelversion")
    active = OldModelVersion.objects.create(
        version="demo-abc", name_or_path="/models/demo", threshold=0.7, is_active=True
    )
    retired = OldModelVersion.objects.create(
        version="hub-def", name_or_path="openai/clip", threshold=0.25, calibration={"coef": 2.0}
    )
    image = ProductImage.objects.create(
        product=Product.objects.create(sku="SKU-1", description="Red mug"),
        image="products/a.jpg",
        content_hash="a" * 64,
    )
    result = AnalysisResult.objects.create(
        image=image,
        model_version=active,
        image_hash="a" * 64,
        description_hash="b" * 64,
        description="Red mug",
        similarity_score=0.81,
    )
    ImageEmbedding.objects.create(image_hash="a" * 64, model_version=retired, vector=b"\0" * 8)

    new = migrator.apply_tested_migration(AFTER)

    ModelVersion = new.apps.get_model("clipanalysis", "ModelVersion")
    assert ModelVersion._meta.db_table == "clipanalysis_modelversion"
    rows = {row.version: row for row in ModelVersion.objects.all()}
    assert set(rows) == {"demo-abc", "hub-def"}
    assert rows["demo-abc"].pk == active.pk and rows["demo-abc"].is_active
    assert rows["hub-def"].calibration == {"coef": 2.0}
    moved = new.apps.get_model("clipanalysis", "AnalysisResult").objects.get(pk=result.pk)
    assert moved.model_version.version == "demo-abc"
    embedding = new.apps.get_model("clipanalysis", "ImageEmbedding").objects.get()
    assert embedding.model_version.version == "hub-def"
    content_types = new.apps.get_model("contenttypes", "ContentType").objects
    assert content_types.filter(app_label="clipanalysis", model="modelversion").exists()
    assert not content_types.filter(app_label="training", model="modelversion").exists()
    migrator.reset()
