SECRET_KEY = "tests-only"
INSTALLED_APPS = ["django.contrib.staticfiles", "django_s3_manifest_storage"]
STATIC_URL = "/static/"
STATIC_ROOT = None
USE_TZ = True
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates"}]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
