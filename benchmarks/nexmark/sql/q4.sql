-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 4: average price for a category
-- -------------------------------------------------------------------------------------------------
-- The average of the winning (highest) bid prices of all auctions in each category: a join
-- of bids with their auction (bids placed between the auction's start and expiry), a max per
-- auction, then an average per category. Updating output; AVG of a BIGINT is a BIGINT
-- (the sum divided by the count, truncated).
-- The query logic is the reference's q4.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q4 (
    id  BIGINT,
    final  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q4
SELECT
    Q.category,
    AVG(Q.final)
FROM (
    SELECT MAX(B.price) AS final, A.category
    FROM auction A, bid B
    WHERE A.id = B.auction AND B.`dateTime` BETWEEN A.`dateTime` AND A.expires
    GROUP BY A.id, A.category
) Q
GROUP BY Q.category;
