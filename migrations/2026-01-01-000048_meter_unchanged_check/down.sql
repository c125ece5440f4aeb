DROP FUNCTION tally_meter_unchanged(bigint, bigint);
