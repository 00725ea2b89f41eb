WITH "base" AS (
  SELECT
    "email",
    "frequency",
    "recency",
    CASE
      WHEN "monetary" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("monetary" AS DOUBLE PRECISION)
    END AS "monetary",
    CASE
      WHEN "aov" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("aov" AS DOUBLE PRECISION)
    END AS "aov",
    "rfm_segment",
    "rfm_score",
    "tenure",
    "first_order_at",
    "last_order_at",
    "country",
    "churned",
    CASE
      WHEN "clv_historical" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("clv_historical" AS DOUBLE PRECISION)
    END AS "clv_historical",
    "rfm_r",
    CASE
      WHEN "orders_per_month" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("orders_per_month" AS DOUBLE PRECISION)
    END AS "orders_per_month",
    CASE
      WHEN "days_between_orders" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("days_between_orders" AS DOUBLE PRECISION)
    END AS "days_between_orders",
    "signup_date",
    "rfm_f",
    "rfm_m"
  FROM (
    SELECT
      "profiles"."email" AS "email",
      "profiles"."country",
      "profiles"."signup_date",
      "metric:purchase".frequency AS "frequency",
      "metric:purchase".recency AS "recency",
      "metric:purchase".monetary AS "monetary",
      "metric:purchase".aov AS "aov",
      "metric:purchase".tenure AS "tenure",
      "metric:purchase".first_order_at AS "first_order_at",
      "metric:purchase".last_order_at AS "last_order_at",
      "metric:purchase".churned AS "churned",
      "metric:purchase".clv_historical AS "clv_historical",
      "metric:purchase".orders_per_month AS "orders_per_month",
      "metric:purchase".days_between_orders AS "days_between_orders",
      "metric:rfm".rfm_segment AS "rfm_segment",
      "metric:rfm".rfm_score AS "rfm_score",
      "metric:rfm".rfm_r AS "rfm_r",
      "metric:rfm".rfm_f AS "rfm_f",
      "metric:rfm".rfm_m AS "rfm_m"
    FROM (
      SELECT
        NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS "email",
        "country",
        "signup_date"
      FROM "crm"
    ) AS "profiles"
    LEFT JOIN (
      WITH "metric:purchase:lines" AS (
        SELECT
          email AS k,
          CAST(order_id AS TEXT) AS order_id,
          CAST(EXTRACT(EPOCH FROM (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) AS at,
          (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC' AS ts,
          CAST(CASE
            WHEN (
              CAST(amount AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) < 0.5
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100)
            WHEN (
              CAST(amount AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) > 0.5
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) + 1
            WHEN CAST(FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) AS BIGINT) % 2 = 0
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100)
            ELSE FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) + 1
          END AS BIGINT) AS units,
          CAST(CASE
            WHEN (
              CAST(margin AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(margin AS DOUBLE PRECISION) * 100) < 0.5
            THEN FLOOR(CAST(margin AS DOUBLE PRECISION) * 100)
            WHEN (
              CAST(margin AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(margin AS DOUBLE PRECISION) * 100) > 0.5
            THEN FLOOR(CAST(margin AS DOUBLE PRECISION) * 100) + 1
            WHEN CAST(FLOOR(CAST(margin AS DOUBLE PRECISION) * 100) AS BIGINT) % 2 = 0
            THEN FLOOR(CAST(margin AS DOUBLE PRECISION) * 100)
            ELSE FLOOR(CAST(margin AS DOUBLE PRECISION) * 100) + 1
          END AS BIGINT) AS margin
        FROM (
          SELECT
            NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS email,
            "ordered_at" AS ordered_at,
            "amount" AS amount,
            "order_id" AS order_id,
            "margin" AS margin
          FROM "orders"
        ) AS "orders"
        WHERE
          NOT email IS NULL
          AND CAST(EXTRACT(EPOCH FROM (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) <= 1718488799999999
      ), "metric:purchase:totals" AS (
        SELECT
          net.k,
          COALESCE(per.n, 0) AS n,
          units,
          margin,
          per.first_at,
          per.last_at,
          per.first_ts,
          per.last_ts
        FROM (
          SELECT
            k,
            SUM(units) AS units,
            SUM(margin) AS margin
          FROM "metric:purchase:lines"
          GROUP BY
            k
        ) AS net
        LEFT JOIN (
          SELECT
            k,
            COUNT(*) AS n,
            MIN(at) AS first_at,
            MAX(at) AS last_at,
            MIN(ts) AS first_ts,
            MAX(ts) AS last_ts
          FROM (
            SELECT
              k,
              MIN(at) AS at,
              MIN(ts) AS ts
            FROM "metric:purchase:lines"
            WHERE
              units >= 0 AND NOT order_id IS NULL
            GROUP BY
              k,
              order_id
            UNION ALL
            SELECT
              k,
              at,
              ts
            FROM "metric:purchase:lines"
            WHERE
              units >= 0 AND order_id IS NULL
          ) AS placed
          GROUP BY
            k
        ) AS per
          ON net.k = per.k
      )
      SELECT
        k AS email,
        CASE
          WHEN n > 0
          THEN (
            19889 - CAST(EXTRACT(epoch FROM CAST(CAST((
              last_ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
          ) * 86400000000
        END AS recency,
        n AS frequency,
        CAST(units AS DOUBLE PRECISION) / 100 AS monetary,
        CASE
          WHEN n > 0
          THEN CAST(CAST(units AS DOUBLE PRECISION) / n AS DOUBLE PRECISION) / 100
        END AS aov,
        first_ts AS first_order_at,
        last_ts AS last_order_at,
        CASE
          WHEN n > 0
          THEN (
            19889 - CAST(EXTRACT(epoch FROM CAST(CAST((
              first_ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
          ) * 86400000000
        END AS tenure,
        CASE
          WHEN n > 0
          THEN CAST(n * 30 AS DOUBLE PRECISION) / GREATEST(
            CAST((
              19889 - CAST(EXTRACT(epoch FROM CAST(CAST((
                first_ts AT TIME ZONE 'UTC'
              ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
            ) * 86400000000 AS DOUBLE PRECISION) / 86400000000,
            30.0
          )
        END AS orders_per_month,
        CASE
          WHEN n > 1
          THEN CAST(CAST((
            CAST(EXTRACT(epoch FROM CAST(CAST((
              last_ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT) - CAST(EXTRACT(epoch FROM CAST(CAST((
              first_ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
          ) * 86400000000 AS DOUBLE PRECISION) / 86400000000 AS DOUBLE PRECISION) / (
            n - 1
          )
        END AS days_between_orders,
        CASE
          WHEN n > 0
          THEN (
            19889 - CAST(EXTRACT(epoch FROM CAST(CAST((
              last_ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
          ) * 86400000000 > 10368000000000
        END AS churned,
        CAST(margin AS DOUBLE PRECISION) / 100 AS clv_historical
      FROM "metric:purchase:totals"
    ) AS "metric:purchase"
      ON "profiles"."email" = "metric:purchase".email
    LEFT JOIN (
      WITH "metric:rfm:lines" AS (
        SELECT
          email AS k,
          CAST(order_id AS TEXT) AS order_id,
          CAST(EXTRACT(EPOCH FROM (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) AS at,
          (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC' AS ts,
          CAST(CASE
            WHEN (
              CAST(amount AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) < 0.5
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100)
            WHEN (
              CAST(amount AS DOUBLE PRECISION) * 100
            ) - FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) > 0.5
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) + 1
            WHEN CAST(FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) AS BIGINT) % 2 = 0
            THEN FLOOR(CAST(amount AS DOUBLE PRECISION) * 100)
            ELSE FLOOR(CAST(amount AS DOUBLE PRECISION) * 100) + 1
          END AS BIGINT) AS units
        FROM (
          SELECT
            NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS email,
            "ordered_at" AS ordered_at,
            "amount" AS amount,
            "order_id" AS order_id,
            "margin" AS margin
          FROM "orders"
        ) AS "orders"
        WHERE
          NOT email IS NULL
          AND CAST(EXTRACT(EPOCH FROM (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) <= 1718488799999999
      ), "metric:rfm:totals" AS (
        SELECT
          net.k,
          COALESCE(per.n, 0) AS n,
          units,
          per.first_at,
          per.last_at,
          per.first_ts,
          per.last_ts
        FROM (
          SELECT
            k,
            SUM(units) AS units
          FROM "metric:rfm:lines"
          GROUP BY
            k
        ) AS net
        LEFT JOIN (
          SELECT
            k,
            COUNT(*) AS n,
            MIN(at) AS first_at,
            MAX(at) AS last_at,
            MIN(ts) AS first_ts,
            MAX(ts) AS last_ts
          FROM (
            SELECT
              k,
              MIN(at) AS at,
              MIN(ts) AS ts
            FROM "metric:rfm:lines"
            WHERE
              units >= 0 AND NOT order_id IS NULL
            GROUP BY
              k,
              order_id
            UNION ALL
            SELECT
              k,
              at,
              ts
            FROM "metric:rfm:lines"
            WHERE
              units >= 0 AND order_id IS NULL
          ) AS placed
          GROUP BY
            k
        ) AS per
          ON net.k = per.k
      ), "metric:rfm:scored" AS (
        SELECT
          *,
          CASE
            WHEN n > 0
            THEN 1 + (
              DIV(
                (
                  5 * (
                    RANK() OVER (
                      PARTITION BY CASE WHEN n > 0 THEN 1 END
                      ORDER BY CASE
                        WHEN n > 0
                        THEN (
                          19889 - CAST(EXTRACT(epoch FROM CAST(CAST((
                            last_ts AT TIME ZONE 'UTC'
                          ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT)
                        ) * 86400000000
                      END DESC NULLS LAST
                    ) - 1
                  )
                ),
                COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
              )
            )
          END AS rfm_r,
          CASE
            WHEN n > 0
            THEN 1 + (
              DIV(
                (
                  5 * (
                    RANK() OVER (PARTITION BY CASE WHEN n > 0 THEN 1 END ORDER BY n ASC) - 1
                  )
                ),
                COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
              )
            )
          END AS rfm_f,
          CASE
            WHEN n > 0
            THEN 1 + (
              DIV(
                (
                  5 * (
                    RANK() OVER (
                      PARTITION BY CASE WHEN n > 0 THEN 1 END
                      ORDER BY CASE WHEN n > 0 THEN units END ASC
                    ) - 1
                  )
                ),
                COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
              )
            )
          END AS rfm_m
        FROM "metric:rfm:totals"
      )
      SELECT
        k AS email,
        rfm_r AS rfm_r,
        rfm_f AS rfm_f,
        rfm_m AS rfm_m,
        CAST((
          (
            rfm_r * 100
          ) + (
            rfm_f * 10
          )
        ) + rfm_m AS TEXT) AS rfm_score,
        CASE
          WHEN rfm_r = 1 AND DIV((
            rfm_f + rfm_m
          ), 2) = 1
          THEN 'Lost'
          WHEN rfm_r = 1 AND DIV((
            rfm_f + rfm_m
          ), 2) = 2
          THEN 'Lost'
          WHEN rfm_r = 1 AND DIV((
            rfm_f + rfm_m
          ), 2) = 3
          THEN 'At Risk'
          WHEN rfm_r = 1 AND DIV((
            rfm_f + rfm_m
          ), 2) = 4
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 1 AND DIV((
            rfm_f + rfm_m
          ), 2) = 5
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 2 AND DIV((
            rfm_f + rfm_m
          ), 2) = 1
          THEN 'Hibernating'
          WHEN rfm_r = 2 AND DIV((
            rfm_f + rfm_m
          ), 2) = 2
          THEN 'Hibernating'
          WHEN rfm_r = 2 AND DIV((
            rfm_f + rfm_m
          ), 2) = 3
          THEN 'At Risk'
          WHEN rfm_r = 2 AND DIV((
            rfm_f + rfm_m
          ), 2) = 4
          THEN 'At Risk'
          WHEN rfm_r = 2 AND DIV((
            rfm_f + rfm_m
          ), 2) = 5
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 3 AND DIV((
            rfm_f + rfm_m
          ), 2) = 1
          THEN 'About To Sleep'
          WHEN rfm_r = 3 AND DIV((
            rfm_f + rfm_m
          ), 2) = 2
          THEN 'About To Sleep'
          WHEN rfm_r = 3 AND DIV((
            rfm_f + rfm_m
          ), 2) = 3
          THEN 'Need Attention'
          WHEN rfm_r = 3 AND DIV((
            rfm_f + rfm_m
          ), 2) = 4
          THEN 'Loyal'
          WHEN rfm_r = 3 AND DIV((
            rfm_f + rfm_m
          ), 2) = 5
          THEN 'Loyal'
          WHEN rfm_r = 4 AND DIV((
            rfm_f + rfm_m
          ), 2) = 1
          THEN 'Promising'
          WHEN rfm_r = 4 AND DIV((
            rfm_f + rfm_m
          ), 2) = 2
          THEN 'Potential Loyalist'
          WHEN rfm_r = 4 AND DIV((
            rfm_f + rfm_m
          ), 2) = 3
          THEN 'Loyal'
          WHEN rfm_r = 4 AND DIV((
            rfm_f + rfm_m
          ), 2) = 4
          THEN 'Champions'
          WHEN rfm_r = 4 AND DIV((
            rfm_f + rfm_m
          ), 2) = 5
          THEN 'Champions'
          WHEN rfm_r = 5 AND DIV((
            rfm_f + rfm_m
          ), 2) = 1
          THEN 'New Customers'
          WHEN rfm_r = 5 AND DIV((
            rfm_f + rfm_m
          ), 2) = 2
          THEN 'Potential Loyalist'
          WHEN rfm_r = 5 AND DIV((
            rfm_f + rfm_m
          ), 2) = 3
          THEN 'Loyal'
          WHEN rfm_r = 5 AND DIV((
            rfm_f + rfm_m
          ), 2) = 4
          THEN 'Champions'
          WHEN rfm_r = 5 AND DIV((
            rfm_f + rfm_m
          ), 2) = 5
          THEN 'Champions'
        END AS rfm_segment
      FROM "metric:rfm:scored"
    ) AS "metric:rfm"
      ON "profiles"."email" = "metric:rfm".email
  ) AS "profiles"
), "events:orders" AS (
  SELECT
    "email",
    (
      "ordered_at" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' AS "__timestamp",
    CASE
      WHEN "amount" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("amount" AS DOUBLE PRECISION)
    END AS "e:amount"
  FROM (
    SELECT
      NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS "email",
      "ordered_at" AS "ordered_at",
      "amount" AS "amount",
      "order_id" AS "order_id",
      "margin" AS "margin"
    FROM "orders"
  ) AS "orders"
  WHERE
    NOT "email" IS NULL
    AND NOT (
      "ordered_at" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' IS NULL
    AND (
      "ordered_at" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' <= CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP)
    AND (
      "ordered_at" AT TIME ZONE 'Europe/Berlin'
    ) AT TIME ZONE 'UTC' >= CAST('2023-06-16 21:59:59.999999' AS TIMESTAMP)
), "aggregates:orders" AS (
  SELECT
    "email",
    COUNT(*) FILTER(WHERE
      "__timestamp" >= CAST('2024-05-16 21:59:59.999999' AS TIMESTAMP)) AS "aggregate:0",
    SUM("e:amount") AS "aggregate:1"
  FROM "events:orders"
  GROUP BY
    "email"
), "joined" AS (
  SELECT
    "base".*,
    COALESCE("aggregates:orders"."aggregate:0", 0) AS "aggregate:0",
    "aggregates:orders"."aggregate:1" AS "aggregate:1"
  FROM "base"
  LEFT JOIN "aggregates:orders"
    ON "base"."email" = "aggregates:orders"."email"
), "layer:1" AS (
  SELECT
    *,
    COALESCE("frequency" >= 3 AND "recency" <= 10368000000000 /* 120d */, FALSE) AS "segment:loyal",
    COALESCE(
      "monetary" >= CAST(400 AS DOUBLE PRECISION)
      AND "aov" > CAST(90.5 AS DOUBLE PRECISION),
      FALSE
    ) AS "segment:big",
    COALESCE(
      (
        "rfm_segment" COLLATE "C"
      ) = (
        'Champions' COLLATE "C"
      )
      OR (
        "rfm_score" COLLATE "C"
      ) = (
        '555' COLLATE "C"
      ),
      FALSE
    ) AS "segment:champions",
    COALESCE(
      "tenure" < 17280000000000 /* 200d */
      AND "first_order_at" > CAST('2023-12-31 23:00:00.000000' AS TIMESTAMP),
      FALSE
    ) AS "segment:newcomers",
    COALESCE(
      "last_order_at" >= (
        CAST('1970-01-01 00:00:00' AS TIMESTAMP) + (
          CAST(EXTRACT(EPOCH FROM CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP)) * 1000000 AS BIGINT) - 2592000000000 /* 30d */
        ) * INTERVAL '1 MICROSECOND'
      )
      AND (
        "country" COLLATE "C"
      ) IN ('DE' COLLATE "C", 'FR' COLLATE "C"),
      FALSE
    ) AS "segment:lately",
    COALESCE(
      "churned" AND "clv_historical" > CAST(50 AS DOUBLE PRECISION) AND "rfm_r" <= 2,
      FALSE
    ) AS "segment:lost",
    COALESCE(
      "orders_per_month" > CAST(0.5 AS DOUBLE PRECISION)
      OR "days_between_orders" < CAST(30 AS DOUBLE PRECISION),
      FALSE
    ) AS "segment:steady",
    COALESCE("frequency" IS NULL AND "signup_date" < CAST('2024-01-01' AS DATE), FALSE) AS "segment:never_bought",
    COALESCE(
      CASE
        WHEN "recency" IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (ORDER BY "recency" ASC) - 1
        ) * 100 < COUNT("recency") OVER () * 20
      END,
      FALSE
    ) AS "segment:recency_top",
    CASE
      WHEN (
        "rfm_f" + "rfm_m"
      ) >= 8
      THEN 'best'
      WHEN "rfm_m" >= 3
      AND (
        CAST("recency" AS DOUBLE PRECISION) / CAST(86400000000.0 AS DOUBLE PRECISION)
      ) < CAST(200 AS DOUBLE PRECISION)
      THEN 'good'
      ELSE 'rest'
    END AS "segment:tier",
    COALESCE(
      "aggregate:0" >= 1
      AND "aggregate:1" > CAST(200 AS DOUBLE PRECISION)
      AND "frequency" >= 2,
      FALSE
    ) AS "segment:buying_again"
  FROM "joined"
), "layer:2" AS (
  SELECT
    *,
    COALESCE("segment:lost" AND NOT "segment:loyal", FALSE) AS "segment:win_back"
  FROM "layer:1"
), "holdouts" AS (
  SELECT
    *,
    CASE
      WHEN "segment:win_back"
      THEN LEFT(
        ENCODE(
          SHA256(CONVERT_TO('metrics-2024:win_back:' || CAST("email" AS TEXT), 'UTF8')),
          'hex'
        ),
        16
      ) COLLATE "C" < '4000000000000000'
      ELSE FALSE
    END AS "holdout:win_back"
  FROM "layer:2"
)
SELECT
  "email",
  "segment:loyal" AS "loyal",
  "segment:big" AS "big",
  "segment:champions" AS "champions",
  "segment:newcomers" AS "newcomers",
  "segment:lately" AS "lately",
  "segment:lost" AS "lost",
  "segment:steady" AS "steady",
  "segment:never_bought" AS "never_bought",
  "segment:recency_top" AS "recency_top",
  "segment:win_back" AND NOT "holdout:win_back" AS "win_back",
  "segment:win_back" AND "holdout:win_back" AS "win_back__holdout",
  "segment:tier" AS "tier",
  "segment:buying_again" AS "buying_again"
FROM "holdouts"
ORDER BY
  "email";
