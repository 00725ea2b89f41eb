WITH "base" AS (
  SELECT
    "email",
    CASE
      WHEN "acquisition_cost" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("acquisition_cost" AS DOUBLE PRECISION)
    END AS "acquisition_cost",
    "frequency",
    CASE
      WHEN "clv_to_cac" = CAST('NaN' AS DOUBLE PRECISION)
      THEN NULL
      ELSE CAST("clv_to_cac" AS DOUBLE PRECISION)
    END AS "clv_to_cac"
  FROM (
    SELECT
      "profiles"."email" AS "email",
      "metric:purchase".frequency AS "frequency",
      "metric:acquisition".acquisition_cost AS "acquisition_cost",
      "metric:acquisition".clv_to_cac AS "clv_to_cac"
    FROM (
      SELECT
        NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS "email"
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
          END AS BIGINT) AS units
        FROM (
          SELECT
            NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS email,
            "ordered_at" AS ordered_at,
            "amount" AS amount,
            "order_id" AS order_id,
            "margin" AS margin,
            "channel" AS channel
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
          per.first_at,
          per.last_at,
          per.first_ts,
          per.last_ts
        FROM (
          SELECT
            k,
            SUM(units) AS units
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
        n AS frequency
      FROM "metric:purchase:totals"
    ) AS "metric:purchase"
      ON "profiles"."email" = "metric:purchase".email
    LEFT JOIN (
      WITH "metric:acquisition:lines" AS (
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
          END AS BIGINT) AS margin,
          CAST(channel AS TEXT) COLLATE "C" AS channel
        FROM (
          SELECT
            NULLIF(LOWER(TRIM(CAST("email" AS TEXT))), '') AS email,
            "ordered_at" AS ordered_at,
            "amount" AS amount,
            "order_id" AS order_id,
            "margin" AS margin,
            "channel" AS channel
          FROM "orders"
        ) AS "orders"
        WHERE
          NOT email IS NULL
          AND CAST(EXTRACT(EPOCH FROM (
            ordered_at AT TIME ZONE 'Europe/Berlin'
          ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) <= 1718488799999999
      ), "metric:acquisition:placed" AS (
        SELECT
          k,
          MIN(at) AS at,
          MIN(ts) AS ts,
          MIN(channel) AS channel
        FROM "metric:acquisition:lines"
        WHERE
          units >= 0 AND NOT order_id IS NULL
        GROUP BY
          k,
          order_id
        UNION ALL
        SELECT
          k,
          at,
          ts,
          channel
        FROM "metric:acquisition:lines"
        WHERE
          units >= 0 AND order_id IS NULL
      ), "metric:acquisition:acquired" AS (
        SELECT
          placed.k,
          MIN(placed.channel) AS channel,
          MIN(placed.ts) AS ts
        FROM "metric:acquisition:placed" AS placed
        JOIN (
          SELECT
            k,
            MIN(at) AS at
          FROM "metric:acquisition:placed"
          GROUP BY
            k
        ) AS firsts
          ON placed.k = firsts.k AND placed.at = firsts.at
        GROUP BY
          placed.k
      ), "metric:acquisition:customers" AS (
        SELECT
          acquired.k,
          acquired.channel AS channel,
          EXTRACT(YEAR FROM CAST('1970-01-01' AS DATE) + (
            INTERVAL '1 DAY' * CAST(CAST(EXTRACT(epoch FROM CAST(CAST((
              acquired.ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT) AS INT)
          )) * 12 + EXTRACT(MONTH FROM CAST('1970-01-01' AS DATE) + (
            INTERVAL '1 DAY' * CAST(CAST(EXTRACT(epoch FROM CAST(CAST((
              acquired.ts AT TIME ZONE 'UTC'
            ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT) AS INT)
          )) AS month
        FROM "metric:acquisition:acquired" AS acquired
      ), "metric:acquisition:spent" AS (
        SELECT
          channel,
          month,
          SUM(units) AS units
        FROM (
          SELECT
            CAST(channel AS TEXT) COLLATE "C" AS channel,
            EXTRACT(YEAR FROM CAST('1970-01-01' AS DATE) + (
              INTERVAL '1 DAY' * CAST(CAST(EXTRACT(epoch FROM CAST(CAST((
                (
                  (
                    CAST(date AS TIMESTAMP) AT TIME ZONE 'Europe/Berlin'
                  ) AT TIME ZONE 'UTC'
                ) AT TIME ZONE 'UTC'
              ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT) AS INT)
            )) * 12 + EXTRACT(MONTH FROM CAST('1970-01-01' AS DATE) + (
              INTERVAL '1 DAY' * CAST(CAST(EXTRACT(epoch FROM CAST(CAST((
                (
                  (
                    CAST(date AS TIMESTAMP) AT TIME ZONE 'Europe/Berlin'
                  ) AT TIME ZONE 'UTC'
                ) AT TIME ZONE 'UTC'
              ) AT TIME ZONE 'Europe/Berlin' AS DATE) AS TIMESTAMP) - CAST(CAST('1970-01-01' AS DATE) AS TIMESTAMP)) / 86400 AS BIGINT) AS INT)
            )) AS month,
            CAST(CASE
              WHEN (
                CAST(spend AS DOUBLE PRECISION) * 100
              ) - FLOOR(CAST(spend AS DOUBLE PRECISION) * 100) < 0.5
              THEN FLOOR(CAST(spend AS DOUBLE PRECISION) * 100)
              WHEN (
                CAST(spend AS DOUBLE PRECISION) * 100
              ) - FLOOR(CAST(spend AS DOUBLE PRECISION) * 100) > 0.5
              THEN FLOOR(CAST(spend AS DOUBLE PRECISION) * 100) + 1
              WHEN CAST(FLOOR(CAST(spend AS DOUBLE PRECISION) * 100) AS BIGINT) % 2 = 0
              THEN FLOOR(CAST(spend AS DOUBLE PRECISION) * 100)
              ELSE FLOOR(CAST(spend AS DOUBLE PRECISION) * 100) + 1
            END AS BIGINT) AS units
          FROM (
            SELECT
              "email" AS email,
              "date" AS date,
              "channel" AS channel,
              "spend" AS spend
            FROM "spend"
          ) AS "spend"
          WHERE
            CAST(EXTRACT(EPOCH FROM (
              CAST(date AS TIMESTAMP) AT TIME ZONE 'Europe/Berlin'
            ) AT TIME ZONE 'UTC') * 1000000 AS BIGINT) <= 1718488799999999
        ) AS seen
        GROUP BY
          channel,
          month
      ), "metric:acquisition:costs" AS (
        SELECT
          news.channel,
          news.month,
          CAST(COALESCE(spent.units, 0) AS DOUBLE PRECISION) / (
            news.n * 100
          ) AS cost
        FROM (
          SELECT
            channel,
            month,
            COUNT(*) AS n
          FROM "metric:acquisition:customers"
          GROUP BY
            channel,
            month
        ) AS news
        LEFT JOIN "metric:acquisition:spent" AS spent
          ON news.channel = spent.channel AND news.month = spent.month
      ), "metric:acquisition:totals" AS (
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
          FROM "metric:acquisition:lines"
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
            FROM "metric:acquisition:lines"
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
            FROM "metric:acquisition:lines"
            WHERE
              units >= 0 AND order_id IS NULL
          ) AS placed
          GROUP BY
            k
        ) AS per
          ON net.k = per.k
      ), "metric:acquisition:valued" AS (
        SELECT
          k,
          CAST(margin AS DOUBLE PRECISION) / 100 AS value
        FROM "metric:acquisition:totals"
      )
      SELECT
        customers.k AS email,
        costs.cost AS acquisition_cost,
        CASE
          WHEN costs.cost <> 0
          THEN CAST(valued.value AS DOUBLE PRECISION) / costs.cost
        END AS clv_to_cac
      FROM "metric:acquisition:customers" AS customers
      LEFT JOIN "metric:acquisition:costs" AS costs
        ON customers.channel = costs.channel AND customers.month = costs.month
      LEFT JOIN "metric:acquisition:valued" AS valued
        ON customers.k = valued.k
    ) AS "metric:acquisition"
      ON "profiles"."email" = "metric:acquisition".email
  ) AS "profiles"
), "layer:1" AS (
  SELECT
    *,
    COALESCE("acquisition_cost" < CAST(100 AS DOUBLE PRECISION), FALSE) AS "segment:cheap",
    COALESCE("acquisition_cost" = CAST(0 AS DOUBLE PRECISION), FALSE) AS "segment:organic",
    COALESCE("acquisition_cost" IS NULL AND "frequency" >= 1, FALSE) AS "segment:unknown_channel",
    COALESCE("clv_to_cac" >= CAST(1.5 AS DOUBLE PRECISION) AND "frequency" >= 2, FALSE) AS "segment:worth",
    COALESCE(
      CASE
        WHEN "acquisition_cost" IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (ORDER BY "acquisition_cost" + CAST(0.0 AS DOUBLE PRECISION) DESC NULLS LAST) - 1
        ) * 100 < COUNT("acquisition_cost") OVER () * 25
      END,
      FALSE
    ) AS "segment:costly"
  FROM "base"
)
SELECT
  "email",
  "segment:cheap" AS "cheap",
  "segment:organic" AS "organic",
  "segment:unknown_channel" AS "unknown_channel",
  "segment:worth" AS "worth",
  "segment:costly" AS "costly"
FROM "layer:1"
ORDER BY
  "email";
