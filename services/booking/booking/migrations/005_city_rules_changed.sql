-- Every replica caches the city's rules and LISTENs on "<schema>_city_rules" (city_rules.py);
-- any change to the table, however it is made, tells them to read the rules again.
CREATE FUNCTION city_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '_city_rules', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER city_rules_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON city_rules
    FOR EACH STATEMENT EXECUTE FUNCTION city_rules_changed();
