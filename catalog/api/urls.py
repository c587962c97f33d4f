from rest_framework.routers import SimpleRouter

from catalog.api.views import ProductImageViewSet, ProductViewSet

router = SimpleRouter()
router.register("products", ProductViewSet)
router.register("images", ProductImageViewSet)

urlpatterns = router.urls
