-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 22: get URL directories (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Bids with the first three directories of their URL (SPLIT_INDEX on '/': index 3, 4, 5 of
-- 'https://www.nexmark.com/dir1/dir2/dir3/item.htm?...'; NULL where the URL has fewer parts).
-- The query logic is the reference's q22.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q22 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    channel  VARCHAR,
    dir1  VARCHAR,
    dir2  VARCHAR,
    dir3  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q22
SELECT
    auction, bidder, price, channel,
    SPLIT_INDEX(url, '/', 3) AS dir1,
    SPLIT_INDEX(url, '/', 4) AS dir2,
    SPLIT_INDEX(url, '/', 5) AS dir3
FROM bid;
