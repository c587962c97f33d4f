from rest_framework.routers import SimpleRouter

from training.api.views import ModelVersionViewSet

router = SimpleRouter()
router.register("models", ModelVersionViewSet)

urlpatterns = router.urls
