-- -------------------------------------------------------------------------------------------------
-- Strom's Nexmark benchmark, Query 3: local item suggestion
-- -------------------------------------------------------------------------------------------------
-- Who sells in category 10 in Oregon, Idaho or California, and which auctions: an unbounded
-- (regular) join of auctions with persons, and filters. Append-only output.
-- The query logic is the reference's q3.sql.
-- -------------------------------------------------------------------------------------------------

CREATE TABLE nexmark_q3 (
    name  VARCHAR,
    city  VARCHAR,
    state  VARCHAR,
    id  BIGINT
) WITH (
    'connector' = '${SINK:-blackhole}'
);

INSERT INTO nexmark_q3
SELECT
    P.name, P.city, P.state, A.id
FROM
    auction AS A INNER JOIN person AS P ON A.seller = P.id
WHERE
    A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
