-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 1: currency conversion
-- -------------------------------------------------------------------------------------------------
-- Every bid with its price converted from dollars to euros (a map).
-- The query logic is the reference's q1.sql. `0.908 * price` is DECIMAL(23, 3).
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q1 (
    auction  BIGINT,
    bidder  BIGINT,
    price  DECIMAL(23, 3),
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q1
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    `dateTime`,
    extra
FROM bid;
