-- pgbench custom script: the cheapest durable transaction — one single-row INSERT per commit
-- into a table with only a primary key (`bench_insert`, created by `tally-bench pgbench`).
-- A metered request that costs no more than this is as cheap as a bare durable commit.
INSERT INTO bench_insert (v) VALUES (1);
