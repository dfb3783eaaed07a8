from django.apps import AppConfig


class SiteAssetsConfig(AppConfig):
    name = "site_assets"
