-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 19: auction top-10 price (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- The 10 highest bids of each auction, with their rank (a top-N). Updating output.
-- The query logic is the reference's q19.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q19 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    channel  VARCHAR,
    url  VARCHAR,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR,
    rank_number  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q19
SELECT * FROM
(SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rank_number FROM bid)
WHERE rank_number <= 10;
