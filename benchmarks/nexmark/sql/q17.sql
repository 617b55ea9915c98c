-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 17: auction statistics report (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Per auction and day: bids in total and per price level, and min, max, average and sum of
-- the prices (an unbounded group aggregation). Updating output; AVG of a BIGINT is a
-- BIGINT (the sum divided by the count, truncated).
-- The query logic is the reference's q17.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q17 (
    auction  BIGINT,
    `day`  VARCHAR,
    total_bids  BIGINT,
    rank1_bids  BIGINT,
    rank2_bids  BIGINT,
    rank3_bids  BIGINT,
    min_price  BIGINT,
    max_price  BIGINT,
    avg_price  BIGINT,
    sum_price  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q17
SELECT
    auction,
    DATE_FORMAT(`dateTime`, 'yyyy-MM-dd') AS `day`,
    count(*) AS total_bids,
    count(*) FILTER (WHERE price < 10000) AS rank1_bids,
    count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
    count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
    min(price) AS min_price,
    max(price) AS max_price,
    avg(price) AS avg_price,
    sum(price) AS sum_price
FROM bid
GROUP BY auction, DATE_FORMAT(`dateTime`, 'yyyy-MM-dd');
