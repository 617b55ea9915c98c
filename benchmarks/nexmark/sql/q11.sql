-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 11: user sessions (not in the original suite)
-- -------------------------------------------------------------------------------------------------
-- How many bids each bidder made in each session of activity: session windows with a gap of
-- 10 s per bidder (the legacy GROUP BY SESSION(...) window, as the reference writes it).
-- The query logic is the reference's q11.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q11 (
    bidder  BIGINT,
    bid_count  BIGINT,
    starttime  TIMESTAMP(3),
    endtime  TIMESTAMP(3)
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q11
SELECT
    B.bidder,
    count(*) AS bid_count,
    SESSION_START(B.`dateTime`, INTERVAL '10' SECOND) AS starttime,
    SESSION_END(B.`dateTime`, INTERVAL '10' SECOND) AS endtime
FROM bid B
GROUP BY B.bidder, SESSION(B.`dateTime`, INTERVAL '10' SECOND);
