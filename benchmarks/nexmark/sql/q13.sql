-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 13: bounded side input join (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Every bid enriched with the value the side input holds for `auction mod 10000`: a
-- processing-time lookup join (FOR SYSTEM_TIME AS OF the bid's processing time), inner, so a
-- bid whose key has no row is dropped and a key with several rows gives one row per match.
-- The query logic is the reference's q13.sql.
--
-- The side input is the file SIDE_INPUT (absolute path, set by the scripts), as the
-- reference's SideInputGenerator writes it (side_input_gen.sh asks for 10 000 rows): CSV
-- without a header, one line `i,i` for every i in 0..9999 (the key, then the key's decimal
-- text as the value), '\n' line ends. `strom nexmark generate --side-input FILE` writes it.
-- The reference declares it with Flink's legacy file-system CSV connector, which answered
-- lookups from the whole file loaded in memory; Flink 2's 'filesystem' connector is not a
-- lookup source, so this uses 'csv-lookup' (benchmarks/nexmark/java/CsvLookupTableFactory.java),
-- which does the same.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE side_input (
    key  BIGINT,
    `value`  VARCHAR
) WITH (
    'connector' = 'csv-lookup',
    'path' = '${SIDE_INPUT}'
);

CREATE TABLE nexmark_q13 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    `dateTime`  TIMESTAMP(3),
    `value`  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q13
SELECT
    B.auction,
    B.bidder,
    B.price,
    B.`dateTime`,
    S.`value`
FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S
ON mod(B.auction, 10000) = S.key;
