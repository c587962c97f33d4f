"""REST API for products and their images (``/api/v1/products/``, ``/api/v1/images/``)."""
