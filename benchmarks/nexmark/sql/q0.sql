-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 0: pass-through (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Every bid, unchanged: measures reading and writing the events.
-- The query logic is the reference's (nexmark/nexmark, nexmark-flink/src/main/resources/
-- queries/q0.sql). The sink is 'blackhole' for timing, 'print' when the scripts check results.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q0 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q0
SELECT auction, bidder, price, `dateTime`, extra FROM bid;
