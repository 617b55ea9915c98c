-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 14: calculation (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Bids in a price range, with the price converted, the time of day classified, and the
-- number of 'c' characters of `extra` counted by a user-defined function (COUNT_CHAR, the
-- reference's CountChar UDF, here benchmarks/nexmark/java/CountChar.java, compiled and put
-- on the class path by the scripts).
-- The query logic is the reference's q14.sql.
-- -------------------------------------------------------------------------------------------------

CREATE FUNCTION count_char AS 'strom.nexmark.CountChar' LANGUAGE JAVA;

CREATE TABLE nexmark_q14 (
    auction  BIGINT,
    bidder  BIGINT,
    price  DECIMAL(23, 3),
    bidTimeType  VARCHAR,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR,
    c_counts  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q14
SELECT
    auction,
    bidder,
    0.908 * price AS price,
    CASE
        WHEN HOUR(`dateTime`) >= 8 AND HOUR(`dateTime`) <= 18 THEN 'dayTime'
        WHEN HOUR(`dateTime`) <= 6 OR HOUR(`dateTime`) >= 20 THEN 'nightTime'
        ELSE 'otherTime'
    END AS bidTimeType,
    `dateTime`,
    extra,
    count_char(extra, 'c') AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
