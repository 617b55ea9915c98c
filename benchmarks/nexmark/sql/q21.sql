-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 21: add channel id (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- Bids with a channel id: fixed ids for four named channels, else the `channel_id`
-- parameter of the URL (CASE WHEN and REGEXP_EXTRACT); bids with neither are dropped.
-- The query logic is the reference's q21.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q21 (
    auction  BIGINT,
    bidder  BIGINT,
    price  BIGINT,
    channel  VARCHAR,
    channel_id  VARCHAR
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q21
SELECT
    auction, bidder, price, channel,
    CASE
        WHEN lower(channel) = 'apple' THEN '0'
        WHEN lower(channel) = 'google' THEN '1'
        WHEN lower(channel) = 'facebook' THEN '2'
        WHEN lower(channel) = 'baidu' THEN '3'
        ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2)
    END AS channel_id
FROM bid
WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL OR
      lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
