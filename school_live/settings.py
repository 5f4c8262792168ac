"""school_live settings: one file, driven by the environment, that runs with no set-up.

With no environment at all it uses a SQLite file, kombu's filesystem broker and the database cache,
all under ``var/``. Production points ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``CACHE_URL`` at
PostgreSQL and Redis and sets ``DEBUG=0`` with a real ``SECRET_KEY``.
"""

import datetime as dt
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SCHOOL_LIVE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=0 school_live needs a secret key of at least "
            "50 random characters in the SECRET_KEY environment variable."
        )
    # A development key, stable across restarts so that logins survive a reload.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
    SECRET_KEY = key_file.read_text().strip()

# Fernet keys that encrypt schools' secrets at rest (school_live/school/models/encrypted.py): the
# first encrypts, all decrypt. Development keeps one under var/; production sets its own.
ENCRYPTION_KEYS = env.list("SCHOOL_LIVE_ENCRYPTION_KEYS", default=[])
if not ENCRYPTION_KEYS and DEBUG:
    encryption_key_file = VAR_DIR / "dev-encryption-key"
    if not encryption_key_file.exists():
        from cryptography.fernet import Fernet

        encryption_key_file.write_text(Fernet.generate_key().decode())
    ENCRYPTION_KEYS = [encryption_key_file.read_text().strip()]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "django_filters",
    "django_tables2",
    "axes",
    "simple_history",
    "school_live.school",
    "school_live.wecom",
    "school_live.sync",
    "school_live.lessons",
    "school_live.corrections",
    "school_live.alerts",
    "school_live.attendance",
    "school_live.dashboard",
    "school_live.reports",
    "school_live.reminders",
    "school_live.setup_check",
    "school_live.install",
]
# Developer tools: the fake WeCom (`wecom_sandbox` command) and the demo and benchmark commands.
# On wherever DEBUG is (so a fresh clone runs `manage.py demo`), off in production unless
# SCHOOL_LIVE_DEVTOOLS=1 asks for them. Product code never imports either app.
DEVTOOLS = env.bool("SCHOOL_LIVE_DEVTOOLS", default=DEBUG)
if DEVTOOLS:
    INSTALLED_APPS += ["school_live.wecom_sandbox", "school_live.devtools"]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # PostgreSQL refuses NUL in a string: a query string carrying one is a 400 here, not a 500.
    "school_live.nul_guard.NulInQueryMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Who made a change, for the audit trail of corrections and thresholds (simple-history).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "school_live.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "school_live.wsgi.application"

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'school_live.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 30)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool(
    "POSTGRES_JIT", default=False
):
    # The verdicts are one large expression: PostgreSQL's planner prices such a query above
    # jit_above_cost and spends ~400 ms compiling it to run ~20 ms of work (measured on the home
    # page: 424 ms with JIT, under 30 ms without). Pages are short queries: JIT off for ours.
    DATABASES["default"].setdefault("OPTIONS", {})
    options = DATABASES["default"]["OPTIONS"].get("options", "")
    DATABASES["default"]["OPTIONS"]["options"] = f"{options} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: the token lock and the sync locks need an atomic add() shared by every process, so the
# default is the database cache (its table is created by a migration), never the memory cache.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="dbcache://school_live_cache"),
    # Per process, in memory: what a page may recompute at any time, kept under a version read
    # from the default cache (school/changes.py), e.g. the class page's warnings.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "school_live-pages",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The lockout check comes first; the WeCom sign-in logs teachers in through ModelBackend directly.
AUTHENTICATION_BACKENDS = [
    "school_live.signin_throttle.ThrottledSignInBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

# Words and time: Chinese first, English second; the school's clock is Shanghai's.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# Static files: whitenoise serves them with hashed names in production.
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# A TLS proxy in front sets X-Forwarded-Proto and X-Forwarded-For; without one both are forgeable.
BEHIND_TLS_PROXY = env.bool("BEHIND_TLS_PROXY", default=False)

# Security: strict when DEBUG is off. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER;
# SECURE_SSL_REDIRECT=0 relaxes the redirect when the proxy already does it.
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if BEHIND_TLS_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Sign-in throttling (django-axes) on the teacher and the admin login: after LOGIN_FAILURE_LIMIT
# failed sign-ins within LOGIN_LOCKOUT_MINUTES, a username, or an IP address, is refused until that
# long after its last failure. LOGIN_LOCKOUT_BY lists what is counted on its own ("username",
# "ip_address") or together ("username+ip_address", for a school behind one NAT address).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env.list("LOGIN_LOCKOUT_BY", default=["username", "ip_address"])
]
AXES_CLIENT_IP_CALLABLE = "school_live.signin_throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "school_live.signin_throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no banner in every command's output; lockouts are still logged

# The default school's name (the school the WECOM_* variables define, school/default_school.py):
# when set it is the name at every migrate; unset, the school is named 学校 once and renamed in the admin.
SCHOOL_NAME = env.str("SCHOOL_NAME", default="")

# WeCom: the real API by default; the sandbox in the demo and the tests.
WECOM_API_BASE = env.str("WECOM_API_BASE", default="https://qyapi.weixin.qq.com").rstrip("/")
WECOM_CORP_ID = env.str("WECOM_CORP_ID", default="")
WECOM_SECRET = env.str("WECOM_SECRET", default="")
WECOM_AGENT_ID = env.int("WECOM_AGENT_ID", default=None)
# Calls a minute to any one WeCom API, by every process of this site together (counted in the
# shared cache): half of WeCom's per-corp limit of 10,000 (api.md §9), leaving room for other
# apps of the corp. Past it calls wait instead of meeting WeCom's frequency limit. 0 turns the budget off.
WECOM_CALLS_PER_MINUTE = env.int("WECOM_CALLS_PER_MINUTE", default=5000)
# Where a teacher's browser is sent to sign in with WeCom (the sandbox serves a stand-in page).
WECOM_OAUTH_BASE = env.str("WECOM_OAUTH_BASE", default="https://open.weixin.qq.com").rstrip("/")
# The app's 接收消息 Token and EncodingAESKey; unset, /wecom/callback/ is a 404 and the sweep alone
# keeps lessons fresh.
WECOM_CALLBACK_TOKEN = env.str("WECOM_CALLBACK_TOKEN", default="")
WECOM_CALLBACK_AES_KEY = env.str("WECOM_CALLBACK_AES_KEY", default="")
# A callback's signed timestamp may be this many seconds off our clock, either way; outside, the
# callback is refused (400). Exact replays within it are answered 200 and change nothing.
WECOM_CALLBACK_MAX_SKEW_SECONDS = env.int("WECOM_CALLBACK_MAX_SKEW_SECONDS", default=24 * 3600)
if WECOM_CALLBACK_MAX_SKEW_SECONDS < 60:
    raise ImproperlyConfigured(
        "WECOM_CALLBACK_MAX_SKEW_SECONDS must be at least 60 (seconds): WeCom's requests take a "
        "moment to arrive and clocks differ a little. The default is 86400 (a day either way)."
    )
# The JS-SDK the pages load: the vendored official file, or the sandbox's stand-in ww (demo, tests).
WECOM_JSSDK_URL = env.str("WECOM_JSSDK_URL", default="")

# The vendor's 代开发 app (api.md §18), from 服务商后台: the provider's corp id and ProviderSecret
# (通用开发参数), the template's SuiteID (dk…) and Secret, and the Token and EncodingAESKey of its
# 指令回调 URL. With all six set, schools install school_live by scanning an install link's QR and
# /wecom/suite/callback/ takes WeCom's command events (school_live/install/); with any unset the
# product stays the single-school app: that URL is a 404 and the install pages say so. Never logged.
WECOM_PROVIDER_CORP_ID = env.str("WECOM_PROVIDER_CORP_ID", default="")
WECOM_PROVIDER_SECRET = env.str("WECOM_PROVIDER_SECRET", default="")
WECOM_SUITE_ID = env.str("WECOM_SUITE_ID", default="")
WECOM_SUITE_SECRET = env.str("WECOM_SUITE_SECRET", default="")
WECOM_SUITE_TOKEN = env.str("WECOM_SUITE_TOKEN", default="")
WECOM_SUITE_AES_KEY = env.str("WECOM_SUITE_AES_KEY", default="")
# A school that uninstalled the app keeps its data this many days (for an export), then a daily
# task deletes it, leaving only its audit lines.
SCHOOL_PURGE_AFTER_DAYS = env.int("SCHOOL_PURGE_AFTER_DAYS", default=30)

# Sync: livings that ended this many days ago and were never synced are fetched by the sweep (a
# new installation finds every living its app ever created; older ones: `manage.py sync_living`).
SYNC_BACKFILL_DAYS = env.int("SYNC_BACKFILL_DAYS", default=7)
# WeCom's transient errors (busy, the frequency and concurrency limits, HTTP 5xx, network) are waited out, call
# by call, in workers and commands alike: a minute limit waits out the minute, the others back off
# from 2 s; one call gives up once its waits would pass SYNC_WAIT_TOTAL seconds. SYNC_WAIT_SCALE
# multiplies every wait and the total (tests and demos shrink it; production keeps 1).
SYNC_WAIT_TOTAL = env.float("SYNC_WAIT_TOTAL", default=120.0)
SYNC_WAIT_SCALE = env.float("SYNC_WAIT_SCALE", default=1.0)
# A running sync refreshes SyncRun.heartbeat_at at most every SYNC_HEARTBEAT_EVERY seconds while it
# works; one whose heartbeat is older than SYNC_DEAD_AFTER seconds lost its worker: it is failed
# and its living started again (the dead-run check runs every minute, see sync/schedule.py).
SYNC_HEARTBEAT_EVERY = env.float("SYNC_HEARTBEAT_EVERY", default=10.0)
SYNC_DEAD_AFTER = env.float("SYNC_DEAD_AFTER", default=60.0)
# Live lessons: a tick every SYNC_LIVE_TICK_SECONDS (the beat schedule of sync/schedule.py,
# created at migrate; edit it in the admin afterwards) queues a sync of each live lesson whose
# numbers are older than SYNC_LIVE_STALE_SECONDS, and of each lesson that ended within
# SYNC_ENDED_WINDOW_SECONDS without a complete sync: every live lesson is synced at least once a
# minute, and its final numbers within one tick of its end. The roll call page polls its JSON
# every ROLLCALL_REFRESH_SECONDS.
SYNC_LIVE_TICK_SECONDS = env.int("SYNC_LIVE_TICK_SECONDS", default=20)
SYNC_LIVE_STALE_SECONDS = env.float("SYNC_LIVE_STALE_SECONDS", default=35.0)
SYNC_ENDED_WINDOW_SECONDS = env.float("SYNC_ENDED_WINDOW_SECONDS", default=300.0)
ROLLCALL_REFRESH_SECONDS = env.int("ROLLCALL_REFRESH_SECONDS", default=20)

# Celery: JSON only; a task is acknowledged after it ran, and given back if its worker died.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless this is
# set, and a new PostgreSQL connection costs more than a small living's sync; it now closes it
# every 1000 tasks, and school_live.celery checks it before each task as Django does per request
# (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
CELERY_DB_REUSE_MAX = 1000
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers an unacknowledged task after its visibility timeout; every time limit must stay
# below it, or a long task would run twice at once.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=600)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=660)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# A pool process is replaced by a fresh one after this many tasks, or after a task leaves it above
# this much resident memory (KiB; Celery checks when each task ends), so what libraries keep
# (caches, a fragmented heap) cannot pile up. A sync needs about 15 MiB over the ~95 MiB a worker
# has once imported, whatever the size of the living (manage.py bench_sync --rows 100000).
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.int("CELERY_WORKER_MAX_TASKS_PER_CHILD", default=200)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int(
    "CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=150 * 1024
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (control) messages; kombu's default is a folder in the current directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": env.float("CELERY_POLLING_INTERVAL", default=1.0),
    }
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# Email: the console by default, SMTP through EMAIL_URL (smtp://user:pass@host:587/?tls=True).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="school_live <noreply@localhost>")

# Logs: access tokens and secrets are redacted from every record (urllib3 logs full URLs).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "school_live.wecom.redact.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # runserver's request log keeps its own handler by default: route it through the redacting
    # one too (the WeCom sign-in callback carries a one-time code in its query string).
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5-responsive.html"
