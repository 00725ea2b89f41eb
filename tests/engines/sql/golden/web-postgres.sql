WITH "base" AS (
  SELECT
    "customer_id",
    "sessions_30d",
    "pageviews_30d",
    "last_seen",
    "plan"
  FROM (
    SELECT
      "profiles"."customer_id" AS "customer_id",
      "profiles"."plan",
      "metric:web".sessions_30d AS "sessions_30d",
      "metric:web".pageviews_30d AS "pageviews_30d",
      "metric:web".last_seen AS "last_seen"
    FROM (
      SELECT
        "customer_id",
        "plan"
      FROM "crm"
    ) AS "profiles"
    LEFT JOIN (
      WITH "metric:web:seen" AS (
        SELECT
          customer_id AS k,
          (
            timestamp AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC' AS ts,
          CAST(EXTRACT(EPOCH FROM (
            timestamp AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) AS at_us,
          name AS name
        FROM (
          SELECT
            "customer_id" AS customer_id,
            "timestamp" AS timestamp,
            "name" AS name
          FROM "events"
        ) AS "events"
        WHERE
          NOT customer_id IS NULL
          AND CAST(EXTRACT(EPOCH FROM (
            timestamp AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) < 1711922400000000
      ), "metric:web:ordered" AS (
        SELECT
          *,
          LAG(at_us) OVER (PARTITION BY k ORDER BY at_us) AS previous
        FROM "metric:web:seen"
      )
      SELECT
        k AS customer_id,
        MAX(ts) AS last_seen,
        COUNT(
          CASE
            WHEN at_us >= 1709330400000000
            AND (
              previous IS NULL OR previous < 1709330400000000 OR at_us - previous > 1800000000
            )
            THEN 1
          END
        ) AS sessions_30d,
        COUNT(CASE WHEN at_us >= 1709330400000000 AND name = 'page_view' THEN 1 END) AS pageviews_30d
      FROM "metric:web:ordered"
      GROUP BY
        k
    ) AS "metric:web"
      ON "profiles"."customer_id" = "metric:web".customer_id
  ) AS "profiles"
), "events:events" AS (
  SELECT
    "customer_id",
    (
      "timestamp" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' AS "__timestamp",
    "name" AS "e:name"
  FROM "events"
  WHERE
    NOT "customer_id" IS NULL
    AND NOT (
      "timestamp" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' IS NULL
    AND (
      "timestamp" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' <= CAST('2024-03-31 21:59:59.999999' AS TIMESTAMP)
    AND (
      "timestamp" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' >= CAST('2024-03-24 21:59:59.999999' AS TIMESTAMP)
), "aggregates:events" AS (
  SELECT
    "customer_id",
    COUNT(*) FILTER(WHERE
      COALESCE((
        "e:name" COLLATE "C"
      ) = (
        'cart_abandoned' COLLATE "C"
      ), FALSE)) AS "aggregate:0"
  FROM "events:events"
  GROUP BY
    "customer_id"
), "joined" AS (
  SELECT
    "base".*,
    COALESCE("aggregates:events"."aggregate:0" > 0, FALSE) AS "aggregate:0"
  FROM "base"
  LEFT JOIN "aggregates:events"
    ON "base"."customer_id" = "aggregates:events"."customer_id"
), "layer:1" AS (
  SELECT
    *,
    COALESCE("sessions_30d" >= 4 AND "pageviews_30d" >= 5, FALSE) AS "segment:regulars",
    COALESCE("sessions_30d" >= 1 AND "pageviews_30d" < 5, FALSE) AS "segment:browsing",
    COALESCE(
      "last_seen" < (
        CAST('1970-01-01 00:00:00' AS TIMESTAMP) + (
          CAST(EXTRACT(EPOCH FROM CAST('2024-03-31 21:59:59.999999' AS TIMESTAMP)) * 1000000 AS BIGINT) - 2592000000000 /* 30d */
        ) * INTERVAL '1 MICROSECOND'
      ),
      FALSE
    ) AS "segment:lapsed",
    COALESCE(
      "last_seen" >= CAST('2024-03-29 23:00:00.000000' AS TIMESTAMP)
      AND (
        "plan" COLLATE "C"
      ) = (
        'pro' COLLATE "C"
      ),
      FALSE
    ) AS "segment:lately",
    COALESCE("last_seen" IS NULL, FALSE) AS "segment:unseen"
  FROM "joined"
), "layer:2" AS (
  SELECT
    *,
    COALESCE("aggregate:0" AND NOT "segment:regulars", FALSE) AS "segment:carts"
  FROM "layer:1"
)
SELECT
  "customer_id",
  "segment:regulars" AS "regulars",
  "segment:browsing" AS "browsing",
  "segment:lapsed" AS "lapsed",
  "segment:lately" AS "lately",
  "segment:unseen" AS "unseen",
  "segment:carts" AS "carts"
FROM "layer:2"
ORDER BY
  "customer_id";
