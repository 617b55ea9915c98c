-- Strom's Nexmark benchmark: Flink settings shared by every query (prepended by the scripts
-- in benchmarks/nexmark/ before checkpoint.sql, ddl.sql and the query's file).
--
-- These follow the table-program settings of the reference benchmark (nexmark/nexmark,
-- nexmark-flink/src/main/resources/conf/sql-client-defaults.yaml and config.yaml):
-- mini-batch aggregation (2 s / 50 000 rows, which also turns on local-global two-phase
-- aggregation) and split distinct aggregation. The reference's cluster settings (8 task
-- managers, RocksDB) are not copied: parallelism comes from the scripts' -p, and the state
-- backend is set in checkpoint.sql.
--
-- Watermarks are emitted periodically with Flink's default interval (200 ms), as in the
-- reference. On our in-order files the results do not depend on it: nothing is ever late,
-- and a bounded file source ends with a maximal watermark that fires every window.

SET 'execution.runtime-mode' = 'streaming';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.auto-watermark-interval' = '200 ms';
SET 'table.exec.mini-batch.enabled' = 'true';
SET 'table.exec.mini-batch.allow-latency' = '2 s';
SET 'table.exec.mini-batch.size' = '50000';
SET 'table.optimizer.distinct-agg.split.enabled' = 'true';
