"""Region codes (SPEC §2), ledger settings and the database URL (SPEC §5): pure functions."""

from __future__ import annotations

import pytest

from ledger.config import DEFAULT_TIMEBANK_CAP_MINUTES, ConfigurationError, LedgerSettings
from ledger.errors import ValidationError
from ledger.persistence import DEFAULT_DATABASE_URL, DatabaseUrlError, persistence_env
from ledger.regions import ancestors, check_region_code, is_region_code, is_within, level_of
from ledger.vocabulary import NATIONAL_THRESHOLDS_MINUTES

# Regions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [("32", "province"), ("3208", "city"), ("320830", "county"), ("320830100", "town"), ("320830100001", "village")],
)
def test_a_region_code_has_the_level_of_its_length(code, level):
    assert is_region_code(code)
    assert check_region_code(code) == code
    assert level_of(code) == level


@pytest.mark.parametrize(
    "code",
    ["", "3", "320", "32083", "3208301", "32083010", "3208301000011", "32a8", "32 8", "３２", "-32", "+3208"],
)
def test_any_other_length_or_a_non_digit_is_not_a_region_code(code):
    assert not is_region_code(code)
    with pytest.raises(ValidationError) as refused:
        check_region_code(code, field="region")
    assert refused.value.field == "region"
    with pytest.raises(ValidationError):
        level_of(code)


def test_statistics_roll_up_by_prefix():
    assert ancestors("320830100001") == ["32", "3208", "320830", "320830100", "320830100001"]
    assert ancestors("3204") == ["32", "3204"]
    assert is_within("320830100", "3208")
    assert not is_within("320831", "320830")
    with pytest.raises(ValidationError):
        ancestors("320")


# Ledger settings ----------------------------------------------------------------------


def test_settings_have_sensible_defaults():
    settings = LedgerSettings.from_env({})
    assert settings.timebank_cap_minutes == DEFAULT_TIMEBANK_CAP_MINUTES == 90_000
    assert settings.star_thresholds_minutes == NATIONAL_THRESHOLDS_MINUTES
    assert settings == LedgerSettings()


def test_settings_come_from_the_environment():
    settings = LedgerSettings.from_env(
        {
            "HOUR_LEDGER_TIMEBANK_CAP_MINUTES": " 120000 ",
            "HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "50,150,300,500,800",
            "HOUR_LEDGER_ID_NUMBER_SALT": "pepper",
        }
    )
    assert settings.timebank_cap_minutes == 120_000
    assert settings.star_thresholds_minutes == (3_000, 9_000, 18_000, 30_000, 48_000)
    assert settings.id_number_salt == "pepper"
    assert "pepper" not in repr(settings)


def test_operating_settings_have_defaults_and_come_from_the_environment():
    assert LedgerSettings().ready_max_lag == 20_000 and LedgerSettings().access_log is True
    settings = LedgerSettings.from_env({"HOUR_LEDGER_READY_MAX_LAG": "0", "HOUR_LEDGER_ACCESS_LOG": "OFF"})
    assert settings.ready_max_lag == 0 and settings.access_log is False
    assert LedgerSettings.from_env({"HOUR_LEDGER_ACCESS_LOG": "on"}).access_log is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOUR_LEDGER_TIMEBANK_CAP_MINUTES", "lots"),
        ("HOUR_LEDGER_TIMEBANK_CAP_MINUTES", "0"),
        ("HOUR_LEDGER_TIMEBANK_CAP_MINUTES", "-90000"),
        ("HOUR_LEDGER_TIMEBANK_CAP_MINUTES", "1.5"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "100,300,600,1000"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "100,300,600,1000,1500,2000"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "100,300,300,1000,1500"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "1500,1000,600,300,100"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "100,300,six hundred,1000,1500"),
        ("HOUR_LEDGER_STAR_THRESHOLDS_HOURS", "0,300,600,1000,1500"),
        ("HOUR_LEDGER_REBUILD_WORK_MEM", "1GB'; DROP TABLE x; --"),
        ("HOUR_LEDGER_REBUILD_WORK_MEM", "lots"),
        ("HOUR_LEDGER_TIMEZONE", "Mars/Olympus_Mons"),
        ("HOUR_LEDGER_LOG_ORIGIN", "has space"),
        ("HOUR_LEDGER_LOG_ORIGIN", "a+b"),
        ("HOUR_LEDGER_CHECKPOINT_SECONDS", "0"),
        ("HOUR_LEDGER_COUNTER_REVERSAL_HOURS", "-1"),
        ("HOUR_LEDGER_KEY_CACHE_SECONDS", "soon"),
        ("HOUR_LEDGER_READY_MAX_LAG", "-1"),
        ("HOUR_LEDGER_READY_STALL_SECONDS", "-1"),
        ("HOUR_LEDGER_FOLLOWER_COALESCE_SECONDS", "2"),
        ("HOUR_LEDGER_FOLLOWER_NICE", "20"),
        ("HOUR_LEDGER_FOLLOWER_NICE", "-5"),
        ("HOUR_LEDGER_READY_MAX_LAG", "a few"),
        ("HOUR_LEDGER_ACCESS_LOG", "maybe"),
        ("HOUR_LEDGER_DATABASE_URL", "postgresql://h/db?schema=Bad-Name"),
    ],
)
def test_a_setting_the_ledger_cannot_use_is_a_configuration_error_naming_it(name, value):
    with pytest.raises(ConfigurationError) as refused:
        LedgerSettings.from_env({name: value})
    assert name in str(refused.value)


# The database URL ---------------------------------------------------------------------


def test_the_default_store_is_an_embedded_sqlite_file():
    assert LedgerSettings.from_env({}).database_url == DEFAULT_DATABASE_URL == "sqlite:///hour-ledger.sqlite3"
    chosen = LedgerSettings.from_env({"HOUR_LEDGER_DATABASE_URL": "postgresql://h/db"})
    assert chosen.database_url == "postgresql://h/db"
    assert persistence_env(DEFAULT_DATABASE_URL) == {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "hour-ledger.sqlite3",
    }


def test_sqlite_urls_name_relative_absolute_and_in_memory_databases():
    assert persistence_env("sqlite:////var/lib/hour%20ledger/l.sqlite3")["SQLITE_DBNAME"] == "/var/lib/hour ledger/l.sqlite3"
    assert persistence_env("sqlite:///data/l.sqlite3")["SQLITE_DBNAME"] == "data/l.sqlite3"
    assert persistence_env("sqlite:///:memory:")["SQLITE_DBNAME"] == "file::memory:?cache=shared"


def test_a_postgresql_url_maps_onto_the_postgres_settings():
    env = persistence_env("postgresql://ledger:s%40cret@db.example:6543/hours?schema=jiangsu&pool_size=4")
    assert env["PERSISTENCE_MODULE"] == "ledger.postgres_recorder:LedgerPostgresFactory"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("db.example", "6543", "hours")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("ledger", "s@cret")
    assert env["POSTGRES_SCHEMA"] == "jiangsu"
    assert env["POSTGRES_POOL_SIZE"] == "4"


def test_a_postgresql_url_has_defaults_for_port_user_and_password():
    env = persistence_env("postgres://127.0.0.1/postgres")
    assert (env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("5432", "postgres", "")
    assert "POSTGRES_SCHEMA" not in env


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/ledger.sqlite3",
        "sqlite:ledger.sqlite3",
        "postgresql://host:port/db",
        "postgresql://host:99999/db",
        "postgresql:///db",
        "postgresql://host",
        "postgresql://host/",
        "postgresql://host/db/extra",
        "mysql://root@localhost/ledger",
        "hour-ledger.sqlite3",
        "",
    ],
)
def test_a_malformed_database_url_is_refused_in_one_line(url):
    with pytest.raises(DatabaseUrlError) as refused:
        persistence_env(url)
    message = str(refused.value)
    assert "HOUR_LEDGER_DATABASE_URL" in message
    assert "\n" not in message


def test_every_setting_survives_the_hand_over_to_worker_processes():
    settings = LedgerSettings.from_env(
        {
            "HOUR_LEDGER_DATABASE_URL": "postgresql://h/db?schema=jiangsu",
            "HOUR_LEDGER_TIMEBANK_CAP_MINUTES": "600",
            "HOUR_LEDGER_STAR_THRESHOLDS_HOURS": "1,2,3,4,5",
            "HOUR_LEDGER_ID_NUMBER_SALT": "pepper",
            "HOUR_LEDGER_KEY_CACHE_SECONDS": "0",
            "HOUR_LEDGER_REBUILD_WORK_MEM": "256MB",
            "HOUR_LEDGER_TIMEZONE": "UTC",
            "HOUR_LEDGER_LOG_ORIGIN": "ledger.example/huaian",
            "HOUR_LEDGER_SIGNING_KEY_FILE": "/etc/hour-ledger/key",
            "HOUR_LEDGER_CHECKPOINT_SECONDS": "5",
            "HOUR_LEDGER_COUNTER_REVERSAL_HOURS": "2",
            "HOUR_LEDGER_PROJECTIONS": "off",
            "HOUR_LEDGER_READY_MAX_LAG": "0",
            "HOUR_LEDGER_READY_STALL_SECONDS": "60",
            "HOUR_LEDGER_ACCESS_LOG": "off",
            "HOUR_LEDGER_FOLLOWER_COALESCE_SECONDS": "0.05",
            "HOUR_LEDGER_FOLLOWER_NICE": "19",
        }
    )
    assert LedgerSettings.from_env(settings.to_env()) == settings
    assert settings != LedgerSettings()


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("postgresql://h/db?schema=Bad-Name", "schema"),
        ("postgresql://h/db?schema=x;drop", "schema"),
        ("postgresql://h/db?schema=1st", "schema"),
        ("postgresql://h/db?pool_size=many", "pool_size"),
        ("postgresql://h/db?connect_timeout=0", "connect_timeout"),
        ("postgresql://h/db?colour=blue", "colour"),
    ],
)
def test_a_bad_postgresql_url_parameter_is_named_in_one_line(url, named):
    with pytest.raises(DatabaseUrlError) as refused:
        persistence_env(url)
    assert named in str(refused.value) and "\n" not in str(refused.value)
