-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 18: find last bid (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- The last bid of each bidder on each auction: deduplication keeping the row with the
-- latest event time (ROW_NUMBER over the rowtime DESC = 1). Updating output.
-- The query logic is the reference's q18.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q18 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    channel  VARCHAR,
    url  VARCHAR,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q18
SELECT auction, bidder, price, channel, url, `dateTime`, extra
FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY `dateTime` DESC) AS rank_number
      FROM bid)
WHERE rank_number <= 1;
