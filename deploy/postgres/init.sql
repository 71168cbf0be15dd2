-- Haulbridge: one login role per service, each owning exactly one schema.
--
-- Run as a superuser (or a role with CREATEROLE that owns the database), connected to
-- the platform's database, with psql 15 or newer:
--
--   BOOKING_DB_PASSWORD=... ADAPTERS_DB_PASSWORD=... NOTIFY_DB_PASSWORD=... OPS_DB_PASSWORD=... \
--     psql -v ON_ERROR_STOP=1 "postgresql://postgres@HOST/haulbridge" -f deploy/postgres/init.sql
--
-- The postgres image runs it by itself on first start (mounted in
-- /docker-entrypoint-initdb.d/), with the four variables set on the container. An install
-- made before the ops service existed runs it once more (as above) to get the ops role.
-- Passwords come only from the environment; nothing secret is in this file. Running it
-- again is safe: it creates what is missing and resets the passwords to the given values.
--
-- The services apply their own migrations (tables, indexes, triggers) at start-up,
-- as the role that owns the schema; this script only makes the roles and schemas.

\set ON_ERROR_STOP on
\set QUIET on

\getenv booking_password BOOKING_DB_PASSWORD
\getenv adapters_password ADAPTERS_DB_PASSWORD
\getenv notify_password NOTIFY_DB_PASSWORD
\getenv ops_password OPS_DB_PASSWORD

\if :{?booking_password}
\else
  \warn 'BOOKING_DB_PASSWORD is not set'
  SELECT 1/0 AS booking_db_password_missing;
\endif
\if :{?adapters_password}
\else
  \warn 'ADAPTERS_DB_PASSWORD is not set'
  SELECT 1/0 AS adapters_db_password_missing;
\endif
\if :{?notify_password}
\else
  \warn 'NOTIFY_DB_PASSWORD is not set'
  SELECT 1/0 AS notify_db_password_missing;
\endif
\if :{?ops_password}
\else
  \warn 'OPS_DB_PASSWORD is not set'
  SELECT 1/0 AS ops_db_password_missing;
\endif

SELECT (length(:'booking_password') >= 12 AND length(:'adapters_password') >= 12
        AND length(:'notify_password') >= 12 AND length(:'ops_password') >= 12) AS passwords_ok \gset
\if :passwords_ok
\else
  \warn 'every *_DB_PASSWORD must be at least 12 characters'
  SELECT 1/0 AS db_password_too_short;
\endif

SELECT current_database() AS dbname \gset

-- Nobody but the owner (and the roles granted below) may connect or create anything
-- shared; the public schema is closed to everyone.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Roles: log in, nothing more. Created if missing, password always (re)set.
SELECT format('CREATE ROLE %I LOGIN', r)
  FROM unnest(ARRAY['booking', 'hauler_adapters', 'notify', 'ops']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE booking         WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'booking_password';
ALTER ROLE hauler_adapters WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'adapters_password';
ALTER ROLE notify          WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'notify_password';
ALTER ROLE ops             WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'ops_password';

GRANT CONNECT ON DATABASE :"dbname" TO booking, hauler_adapters, notify, ops;

-- One schema per service, owned by its role: the role can create its tables there and
-- has no privilege at all on the others (a schema's owner grants nothing to others).
-- ops too: it keeps its own read model, fed by the topics, and reads nothing of the others'.
CREATE SCHEMA IF NOT EXISTS booking         AUTHORIZATION booking;
CREATE SCHEMA IF NOT EXISTS hauler_adapters AUTHORIZATION hauler_adapters;
CREATE SCHEMA IF NOT EXISTS notify          AUTHORIZATION notify;
CREATE SCHEMA IF NOT EXISTS ops             AUTHORIZATION ops;

-- The services set search_path themselves; this keeps psql sessions as the role tidy too.
ALTER ROLE booking         SET search_path = booking;
ALTER ROLE hauler_adapters SET search_path = hauler_adapters;
ALTER ROLE notify          SET search_path = notify;
ALTER ROLE ops             SET search_path = ops;

\unset booking_password
\unset adapters_password
\unset notify_password
\unset ops_password
\echo 'haulbridge: roles booking, hauler_adapters, notify, ops and their schemas are ready'
