WITH "base" AS (
  SELECT
    "email",
    "last_order_date",
    CAST("frequency" AS BIGINT) AS "frequency",
    CASE
      WHEN "monetary" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("monetary" AS DOUBLE PRECISION)
    END AS "monetary",
    "country",
    "email_consent",
    CASE
      WHEN "aov" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("aov" AS DOUBLE PRECISION)
    END AS "aov",
    "email_address",
    "city",
    "interests",
    CAST("last_seen_at" AT TIME ZONE 'UTC' AS TIMESTAMP) AS "last_seen_at",
    "signup_date"
  FROM (
    SELECT
      COALESCE("crm"."email", "shop"."email") AS "email",
      "crm"."country",
      "crm"."email_consent",
      "crm"."email_address",
      "crm"."city",
      "crm"."interests",
      "crm"."last_seen_at",
      "crm"."signup_date",
      "shop"."last_order_date",
      "shop"."frequency",
      "shop"."monetary",
      "shop"."aov"
    FROM (
      SELECT
        NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS "email",
        "country",
        "email_consent",
        "email_address",
        "city",
        "interests",
        "last_seen_at",
        "signup_date"
      FROM "crm"
    ) AS "crm"
    FULL JOIN (
      SELECT
        NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS "email",
        "last_order_date",
        "frequency",
        "monetary",
        "aov"
      FROM "shop"
    ) AS "shop"
      ON "crm"."email" = "shop"."email"
  ) AS "profiles"
), "events:sales" AS (
  SELECT
    "email",
    CAST("ordered_at" AT TIME ZONE 'UTC' AS TIMESTAMP) AS "__timestamp",
    "category" AS "e:category",
    CASE
      WHEN "amount" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("amount" AS DOUBLE PRECISION)
    END AS "e:amount",
    "channel" AS "e:channel"
  FROM "sales"
  WHERE
    NOT "email" IS NULL
    AND NOT CAST("ordered_at" AT TIME ZONE 'UTC' AS TIMESTAMP) IS NULL
    AND CAST("ordered_at" AT TIME ZONE 'UTC' AS TIMESTAMP) <= CAST('2026-01-31 22:59:59.999999' AS TIMESTAMP)
), "best:sales" AS (
  SELECT
    "email",
    MIN("__timestamp") FILTER(WHERE
      NOT "e:channel" IS NULL) AS "best:aggregate:5",
    MAX("__timestamp") FILTER(WHERE
      NOT "e:channel" IS NULL) AS "best:aggregate:6"
  FROM "events:sales"
  GROUP BY
    "email"
), "aggregates:sales" AS (
  SELECT
    "events:sales"."email",
    COUNT(*) FILTER(WHERE
      "__timestamp" >= CAST('2025-01-31 22:59:59.999999' AS TIMESTAMP)
      AND COALESCE((
        "e:category" COLLATE "C"
      ) = (
        'shoes' COLLATE "C"
      ), FALSE)) AS "aggregate:0",
    COUNT(*) FILTER(WHERE
      "__timestamp" >= CAST('2025-08-04 22:59:59.999999' AS TIMESTAMP)
      AND "__timestamp" <= CAST('2025-11-02 22:59:59.999999' AS TIMESTAMP)) AS "aggregate:1",
    COUNT(*) FILTER(WHERE
      "__timestamp" >= CAST('2025-11-02 22:59:59.999999' AS TIMESTAMP)) AS "aggregate:2",
    SUM("e:amount") FILTER(WHERE
      "__timestamp" >= CAST('2025-09-30 22:00:00.000000' AS TIMESTAMP)
      AND "__timestamp" <= CAST('2025-12-31 22:59:59.999999' AS TIMESTAMP)) AS "aggregate:3",
    AVG(CAST("e:amount" AS DOUBLE PRECISION)) AS "aggregate:4",
    MIN("e:channel") FILTER(WHERE
      NOT "e:channel" IS NULL AND "__timestamp" = "best:aggregate:5") AS "aggregate:5",
    MAX("e:channel") FILTER(WHERE
      NOT "e:channel" IS NULL AND "__timestamp" = "best:aggregate:6") AS "aggregate:6",
    CASE
      WHEN COUNT(*) FILTER(WHERE
        "__timestamp" >= CAST('2024-12-31 23:00:00.000000' AS TIMESTAMP)) > 0
      THEN COUNT(DISTINCT "e:category") FILTER(WHERE
        "__timestamp" >= CAST('2024-12-31 23:00:00.000000' AS TIMESTAMP))
    END AS "aggregate:7",
    MAX("e:amount") AS "aggregate:8"
  FROM "events:sales"
  LEFT JOIN "best:sales"
    ON "events:sales"."email" = "best:sales"."email"
  GROUP BY
    "events:sales"."email"
), "joined" AS (
  SELECT
    "base".*,
    COALESCE("aggregates:sales"."aggregate:0", 0) AS "aggregate:0",
    COALESCE("aggregates:sales"."aggregate:1", 0) AS "aggregate:1",
    COALESCE("aggregates:sales"."aggregate:2" > 0, FALSE) AS "aggregate:2",
    "aggregates:sales"."aggregate:3" AS "aggregate:3",
    "aggregates:sales"."aggregate:4" AS "aggregate:4",
    "aggregates:sales"."aggregate:5" AS "aggregate:5",
    "aggregates:sales"."aggregate:6" AS "aggregate:6",
    "aggregates:sales"."aggregate:7" AS "aggregate:7",
    "aggregates:sales"."aggregate:8" AS "aggregate:8"
  FROM "base"
  LEFT JOIN "aggregates:sales"
    ON "base"."email" = "aggregates:sales"."email"
), "layer:1" AS (
  SELECT
    *,
    COALESCE(
      "last_order_date" >= CAST('2025-11-02' AS DATE)
      AND "last_order_date" <= CAST('2026-01-31' AS DATE)
      AND "frequency" >= 5
      AND "monetary" >= CAST(500.5 AS DOUBLE PRECISION),
      FALSE
    ) AS "segment:champions",
    COALESCE(
      (
        "country" COLLATE "C"
      ) IN ('DE' COLLATE "C", 'FR' COLLATE "C", NULL)
      AND "email_consent",
      FALSE
    ) AS "segment:eu_email",
    COALESCE(
      NOT (
        "country" COLLATE "C"
      ) IN ('DE' COLLATE "C", 'FR' COLLATE "C")
      OR "country" IS NULL,
      FALSE
    ) AS "segment:not_eu",
    COALESCE(
      "monetary" >= CAST(100 AS DOUBLE PRECISION)
      AND "monetary" <= CAST(500 AS DOUBLE PRECISION)
      AND NOT "aov" > (
        CAST(CAST(2 AS DOUBLE PRECISION) * "monetary" AS DOUBLE PRECISION) / NULLIF(CAST("frequency" AS DOUBLE PRECISION), CAST(0.0 AS DOUBLE PRECISION))
      ),
      FALSE
    ) AS "segment:mid",
    COALESCE(
      RIGHT(LOWER("email_address"), 10) = '@gmail.com' AND STARTS_WITH("city", 'B'),
      FALSE
    ) AS "segment:gmail",
    COALESCE(
      (
        STRPOS("city", 'Berlin') > 0 OR STRPOS("city", 'Köln') > 0
      )
      AND "city" COLLATE "C" ~ '^[A-Z][a-z]+$',
      FALSE
    ) AS "segment:searched",
    COALESCE(
      CASE
        WHEN "interests" IS NULL
        THEN NULL
        ELSE COALESCE('yoga' = ANY(
          "interests"
        ), FALSE)
        AND COALESCE('run' = ANY(
          "interests"
        ), FALSE)
      END
      OR CAST(CARDINALITY("interests") AS BIGINT) = 0,
      FALSE
    ) AS "segment:yogis",
    COALESCE(
      "last_seen_at" >= (
        CAST('1970-01-01 00:00:00' AS TIMESTAMP) + (
          CAST(EXTRACT(EPOCH FROM CAST('2026-01-31 22:59:59.999999' AS TIMESTAMP)) * 1000000 AS BIGINT) - 43200000000 /* 12h */
        ) * INTERVAL '1 MICROSECOND'
      )
      AND (
        CAST('1970-01-01 00:00:00' AS TIMESTAMP) + (
          CAST(EXTRACT(EPOCH FROM (
            CAST("signup_date" AS TIMESTAMP) AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) + 2592000000000 /* 30d */
        ) * INTERVAL '1 MICROSECOND'
      ) < "last_seen_at",
      FALSE
    ) AS "segment:recent",
    COALESCE(
      (
        CAST(EXTRACT(EPOCH FROM CAST('2026-01-30 23:00:00.000000' AS TIMESTAMP)) * 1000000 AS BIGINT) - CAST(EXTRACT(EPOCH FROM (
          CAST("signup_date" AS TIMESTAMP) AT TIME ZONE 'Europe/Berlin'
        ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT)
      ) >= 31536000000000 /* 365d */
      AND CAST(EXTRACT(YEAR FROM "signup_date") AS BIGINT) < 2025
      AND CAST(EXTRACT(ISODOW FROM (
        "last_seen_at" AT TIME ZONE 'UTC'
      ) AT TIME ZONE 'Europe/Berlin') AS BIGINT) >= 6,
      FALSE
    ) AS "segment:old_hands",
    COALESCE(
      CASE
        WHEN "monetary" IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (ORDER BY "monetary" + CAST(0.0 AS DOUBLE PRECISION) DESC NULLS LAST) - 1
        ) * 100 < COUNT("monetary") OVER () * 10
      END,
      FALSE
    ) AS "segment:big_spenders",
    COALESCE(
      CASE
        WHEN (
          CAST("monetary" AS DOUBLE PRECISION) / NULLIF(CAST("frequency" AS DOUBLE PRECISION), CAST(0.0 AS DOUBLE PRECISION))
        ) IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (
            ORDER BY (
              CAST("monetary" AS DOUBLE PRECISION) / NULLIF(CAST("frequency" AS DOUBLE PRECISION), CAST(0.0 AS DOUBLE PRECISION))
            ) + CAST(0.0 AS DOUBLE PRECISION) ASC
          ) - 1
        ) * 200 < COUNT(
          CAST("monetary" AS DOUBLE PRECISION) / NULLIF(CAST("frequency" AS DOUBLE PRECISION), CAST(0.0 AS DOUBLE PRECISION))
        ) OVER () * 25
      END,
      FALSE
    ) AS "segment:thrifty",
    COALESCE(COALESCE("email_consent", FALSE) OR TRUE, FALSE) AS "segment:everyone",
    COALESCE("aggregate:0" >= 2, FALSE) AS "segment:repeat_shoes",
    COALESCE("aggregate:1" >= 2 AND NOT "aggregate:2", FALSE) AS "segment:slipping",
    COALESCE(
      "aggregate:3" > CAST(500 AS DOUBLE PRECISION)
      AND "aggregate:4" > CAST(20 AS DOUBLE PRECISION),
      FALSE
    ) AS "segment:q4",
    COALESCE(
      (
        "aggregate:5" COLLATE "C"
      ) = (
        'web' COLLATE "C"
      )
      AND (
        "aggregate:6" COLLATE "C"
      ) <> (
        'web' COLLATE "C"
      ),
      FALSE
    ) AS "segment:web_first",
    COALESCE(
      "aggregate:7" >= 4
      AND "aggregate:8" > CAST(ROUND(CAST("aov" AS DECIMAL), 1) AS DOUBLE PRECISION),
      FALSE
    ) AS "segment:explorers",
    CASE
      WHEN "signup_date" >= CAST('2026-01-01' AS DATE)
      AND "signup_date" <= CAST('2026-01-31' AS DATE)
      THEN 'new'
      WHEN "last_order_date" >= CAST('2025-11-02' AS DATE)
      AND "last_order_date" <= CAST('2026-01-31' AS DATE)
      THEN 'active'
      WHEN "last_order_date" >= CAST('2025-01-31' AS DATE)
      AND "last_order_date" <= CAST('2026-01-31' AS DATE)
      THEN 'lapsing'
      ELSE 'lost'
    END AS "segment:lifecycle"
  FROM "joined"
), "layer:2" AS (
  SELECT
    *,
    COALESCE("segment:big_spenders" AND NOT "segment:champions", FALSE) AS "segment:win_back"
  FROM "layer:1"
), "holdouts" AS (
  SELECT
    *,
    CASE
      WHEN "segment:win_back"
      THEN LEFT(
        ENCODE(
          SHA256(CONVERT_TO('spring-2026:win_back:' || CAST("email" AS TEXT), 'UTF8')),
          'hex'
        ),
        16
      ) COLLATE "C" < '199999999999999a'
      ELSE FALSE
    END AS "holdout:win_back",
    CASE
      WHEN "segment:everyone"
      THEN LEFT(
        ENCODE(
          SHA256(CONVERT_TO('spring-2026:everyone:' || CAST("email" AS TEXT), 'UTF8')),
          'hex'
        ),
        16
      ) COLLATE "C" < '0666666666666667'
      ELSE FALSE
    END AS "holdout:everyone"
  FROM "layer:2"
)
SELECT
  "email",
  "segment:champions" AS "champions",
  "segment:eu_email" AS "eu_email",
  "segment:not_eu" AS "not_eu",
  "segment:mid" AS "mid",
  "segment:gmail" AS "gmail",
  "segment:searched" AS "searched",
  "segment:yogis" AS "yogis",
  "segment:recent" AS "recent",
  "segment:old_hands" AS "old_hands",
  "segment:big_spenders" AS "big_spenders",
  "segment:thrifty" AS "thrifty",
  "segment:win_back" AND NOT "holdout:win_back" AS "win_back",
  "segment:win_back" AND "holdout:win_back" AS "win_back__holdout",
  "segment:everyone" AND NOT "holdout:everyone" AS "everyone",
  "segment:everyone" AND "holdout:everyone" AS "everyone__holdout",
  "segment:repeat_shoes" AS "repeat_shoes",
  "segment:slipping" AS "slipping",
  "segment:q4" AS "q4",
  "segment:web_first" AS "web_first",
  "segment:explorers" AS "explorers",
  "segment:lifecycle" AS "lifecycle"
FROM "holdouts"
ORDER BY
  "email";
