-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 7: highest bid
-- -------------------------------------------------------------------------------------------------
-- The highest bids of each 10 s tumbling window: the window's max price, joined back to the
-- bids with that price placed in [window end - 10 s, window end] (a regular join with a
-- time condition, so a bid exactly on the window end matches the window before as well).
-- The query logic is the reference's q7.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q7 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    `dateTime`  TIMESTAMP(3),
    extra  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q7
SELECT B.auction, B.bidder, B.price, B.`dateTime`, B.extra
FROM bid B
JOIN (
    SELECT MAX(price) AS maxprice, window_end AS `dateTime`
    FROM TABLE(
        TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end
) B1
ON B.price = B1.maxprice
WHERE B.`dateTime` BETWEEN B1.`dateTime` - INTERVAL '10' SECOND AND B1.`dateTime`;
