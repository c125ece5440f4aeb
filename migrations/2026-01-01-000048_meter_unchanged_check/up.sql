-- The check an optimistic meter batch ends with (tally_store_pg::meter::optimistic): the
-- batch decided from row versions it read without locks, then locked those rows in its one
-- write statement; `got` is how many of them still had the versions read. Any other count
-- means a concurrent transaction changed a row in between: the statement fails as a
-- serialisation failure (nothing of it is written) and the batch runs again under locks.
-- Returns the statement's transaction id, the version every row it writes gets.
CREATE FUNCTION tally_meter_unchanged(got bigint, expected bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF got <> expected THEN
        RAISE EXCEPTION 'meter batch: % of % rows changed since they were read',
            expected - got, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN pg_current_xact_id()::xid::text::bigint;
END
$$;
