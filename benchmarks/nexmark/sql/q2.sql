-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 2: selection
-- -------------------------------------------------------------------------------------------------
-- The bids on every 123rd auction, with their price (a filter).
-- The query logic is the reference's q2.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q2 (
    auction  BIGINT,
    price  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q2
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
