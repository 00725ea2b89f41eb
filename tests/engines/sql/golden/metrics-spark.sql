WITH `metric:purchase:lines` AS (
  SELECT
    email AS k,
    CAST(order_id AS STRING) AS order_id,
    UNIX_MICROS(
      CASE
        WHEN UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
        AND UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(
              UNIX_MICROS(ordered_at) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
                )
              )
            ),
            'Europe/Berlin'
          )
        ) = UNIX_MICROS(ordered_at)
        THEN TIMESTAMP_MICROS(
          UNIX_MICROS(ordered_at) - (
            UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                'Europe/Berlin'
              )
            ) - (
              UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
            )
          )
        )
        ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
      END
    ) AS at,
    CASE
      WHEN UNIX_MICROS(ordered_at) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(ordered_at) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(ordered_at)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
    END AS ts,
    CAST(CASE
      WHEN (
        CAST(amount AS DOUBLE) * 100
      ) - FLOOR(CAST(amount AS DOUBLE) * 100) < 0.5
      THEN FLOOR(CAST(amount AS DOUBLE) * 100)
      WHEN (
        CAST(amount AS DOUBLE) * 100
      ) - FLOOR(CAST(amount AS DOUBLE) * 100) > 0.5
      THEN FLOOR(CAST(amount AS DOUBLE) * 100) + 1
      WHEN CAST(FLOOR(CAST(amount AS DOUBLE) * 100) AS BIGINT) % 2 = 0
      THEN FLOOR(CAST(amount AS DOUBLE) * 100)
      ELSE FLOOR(CAST(amount AS DOUBLE) * 100) + 1
    END AS BIGINT) AS units,
    CAST(CASE
      WHEN (
        CAST(margin AS DOUBLE) * 100
      ) - FLOOR(CAST(margin AS DOUBLE) * 100) < 0.5
      THEN FLOOR(CAST(margin AS DOUBLE) * 100)
      WHEN (
        CAST(margin AS DOUBLE) * 100
      ) - FLOOR(CAST(margin AS DOUBLE) * 100) > 0.5
      THEN FLOOR(CAST(margin AS DOUBLE) * 100) + 1
      WHEN CAST(FLOOR(CAST(margin AS DOUBLE) * 100) AS BIGINT) % 2 = 0
      THEN FLOOR(CAST(margin AS DOUBLE) * 100)
      ELSE FLOOR(CAST(margin AS DOUBLE) * 100) + 1
    END AS BIGINT) AS margin
  FROM (
    SELECT
      NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS email,
      `ordered_at` AS ordered_at,
      `amount` AS amount,
      `order_id` AS order_id,
      `margin` AS margin
    FROM `orders`
  ) AS `orders`
  WHERE
    NOT email IS NULL
    AND UNIX_MICROS(
      CASE
        WHEN UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
        AND UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(
              UNIX_MICROS(ordered_at) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
                )
              )
            ),
            'Europe/Berlin'
          )
        ) = UNIX_MICROS(ordered_at)
        THEN TIMESTAMP_MICROS(
          UNIX_MICROS(ordered_at) - (
            UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                'Europe/Berlin'
              )
            ) - (
              UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
            )
          )
        )
        ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
      END
    ) <= 1718488799999999
), `metric:purchase:totals` AS (
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
    FROM `metric:purchase:lines`
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
      FROM `metric:purchase:lines`
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
      FROM `metric:purchase:lines`
      WHERE
        units >= 0 AND order_id IS NULL
    ) AS placed
    GROUP BY
      k
  ) AS per
    ON net.k = per.k
), `metric:rfm:lines` AS (
  SELECT
    email AS k,
    CAST(order_id AS STRING) AS order_id,
    UNIX_MICROS(
      CASE
        WHEN UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
        AND UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(
              UNIX_MICROS(ordered_at) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
                )
              )
            ),
            'Europe/Berlin'
          )
        ) = UNIX_MICROS(ordered_at)
        THEN TIMESTAMP_MICROS(
          UNIX_MICROS(ordered_at) - (
            UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                'Europe/Berlin'
              )
            ) - (
              UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
            )
          )
        )
        ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
      END
    ) AS at,
    CASE
      WHEN UNIX_MICROS(ordered_at) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(ordered_at) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(ordered_at)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
    END AS ts,
    CAST(CASE
      WHEN (
        CAST(amount AS DOUBLE) * 100
      ) - FLOOR(CAST(amount AS DOUBLE) * 100) < 0.5
      THEN FLOOR(CAST(amount AS DOUBLE) * 100)
      WHEN (
        CAST(amount AS DOUBLE) * 100
      ) - FLOOR(CAST(amount AS DOUBLE) * 100) > 0.5
      THEN FLOOR(CAST(amount AS DOUBLE) * 100) + 1
      WHEN CAST(FLOOR(CAST(amount AS DOUBLE) * 100) AS BIGINT) % 2 = 0
      THEN FLOOR(CAST(amount AS DOUBLE) * 100)
      ELSE FLOOR(CAST(amount AS DOUBLE) * 100) + 1
    END AS BIGINT) AS units
  FROM (
    SELECT
      NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS email,
      `ordered_at` AS ordered_at,
      `amount` AS amount,
      `order_id` AS order_id,
      `margin` AS margin
    FROM `orders`
  ) AS `orders`
  WHERE
    NOT email IS NULL
    AND UNIX_MICROS(
      CASE
        WHEN UNIX_MICROS(ordered_at) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
          )
        ) > UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin'))
        AND UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(
              UNIX_MICROS(ordered_at) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
                )
              )
            ),
            'Europe/Berlin'
          )
        ) = UNIX_MICROS(ordered_at)
        THEN TIMESTAMP_MICROS(
          UNIX_MICROS(ordered_at) - (
            UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000),
                'Europe/Berlin'
              )
            ) - (
              UNIX_MICROS(TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')) + 86400000000
            )
          )
        )
        ELSE TO_UTC_TIMESTAMP(ordered_at, 'Europe/Berlin')
      END
    ) <= 1718488799999999
), `metric:rfm:totals` AS (
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
    FROM `metric:rfm:lines`
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
      FROM `metric:rfm:lines`
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
      FROM `metric:rfm:lines`
      WHERE
        units >= 0 AND order_id IS NULL
    ) AS placed
    GROUP BY
      k
  ) AS per
    ON net.k = per.k
), `metric:rfm:scored` AS (
  SELECT
    *,
    CASE
      WHEN n > 0
      THEN 1 + (
        (
          5 * (
            RANK() OVER (
              PARTITION BY CASE WHEN n > 0 THEN 1 END
              ORDER BY CASE
                WHEN n > 0
                THEN (
                  19889 - DATEDIFF(
                    DAY,
                    CAST('1970-01-01' AS DATE),
                    CAST(FROM_UTC_TIMESTAMP(last_ts, 'Europe/Berlin') AS DATE)
                  )
                ) * 86400000000
              END DESC
            ) - 1
          )
        ) DIV COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
      )
    END AS rfm_r,
    CASE
      WHEN n > 0
      THEN 1 + (
        (
          5 * (
            RANK() OVER (PARTITION BY CASE WHEN n > 0 THEN 1 END ORDER BY n ASC NULLS LAST) - 1
          )
        ) DIV COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
      )
    END AS rfm_f,
    CASE
      WHEN n > 0
      THEN 1 + (
        (
          5 * (
            RANK() OVER (
              PARTITION BY CASE WHEN n > 0 THEN 1 END
              ORDER BY CASE WHEN n > 0 THEN units END ASC NULLS LAST
            ) - 1
          )
        ) DIV COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
      )
    END AS rfm_m
  FROM `metric:rfm:totals`
), `base` AS (
  SELECT
    `email`,
    `frequency`,
    `recency`,
    CASE WHEN ISNAN(`monetary`) THEN NULL ELSE CAST(`monetary` AS DOUBLE) END AS `monetary`,
    CASE WHEN ISNAN(`aov`) THEN NULL ELSE CAST(`aov` AS DOUBLE) END AS `aov`,
    `rfm_segment`,
    `rfm_score`,
    `tenure`,
    `first_order_at`,
    `last_order_at`,
    `country`,
    `churned`,
    CASE
      WHEN ISNAN(`clv_historical`)
      THEN NULL
      ELSE CAST(`clv_historical` AS DOUBLE)
    END AS `clv_historical`,
    `rfm_r`,
    CASE
      WHEN ISNAN(`orders_per_month`)
      THEN NULL
      ELSE CAST(`orders_per_month` AS DOUBLE)
    END AS `orders_per_month`,
    CASE
      WHEN ISNAN(`days_between_orders`)
      THEN NULL
      ELSE CAST(`days_between_orders` AS DOUBLE)
    END AS `days_between_orders`,
    `signup_date`,
    `rfm_f`,
    `rfm_m`
  FROM (
    SELECT
      `profiles`.`email` AS `email`,
      `profiles`.`country`,
      `profiles`.`signup_date`,
      `metric:purchase`.frequency AS `frequency`,
      `metric:purchase`.recency AS `recency`,
      `metric:purchase`.monetary AS `monetary`,
      `metric:purchase`.aov AS `aov`,
      `metric:purchase`.tenure AS `tenure`,
      `metric:purchase`.first_order_at AS `first_order_at`,
      `metric:purchase`.last_order_at AS `last_order_at`,
      `metric:purchase`.churned AS `churned`,
      `metric:purchase`.clv_historical AS `clv_historical`,
      `metric:purchase`.orders_per_month AS `orders_per_month`,
      `metric:purchase`.days_between_orders AS `days_between_orders`,
      `metric:rfm`.rfm_segment AS `rfm_segment`,
      `metric:rfm`.rfm_score AS `rfm_score`,
      `metric:rfm`.rfm_r AS `rfm_r`,
      `metric:rfm`.rfm_f AS `rfm_f`,
      `metric:rfm`.rfm_m AS `rfm_m`
    FROM (
      SELECT
        NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS `email`,
        `country`,
        `signup_date`
      FROM `crm`
    ) AS `profiles`
    LEFT JOIN (
      SELECT
        k AS email,
        CASE
          WHEN n > 0
          THEN (
            19889 - DATEDIFF(
              DAY,
              CAST('1970-01-01' AS DATE),
              CAST(FROM_UTC_TIMESTAMP(last_ts, 'Europe/Berlin') AS DATE)
            )
          ) * 86400000000
        END AS recency,
        n AS frequency,
        CAST(units AS DOUBLE) / 100 AS monetary,
        CASE WHEN n > 0 THEN CAST(CAST(units AS DOUBLE) / n AS DOUBLE) / 100 END AS aov,
        first_ts AS first_order_at,
        last_ts AS last_order_at,
        CASE
          WHEN n > 0
          THEN (
            19889 - DATEDIFF(
              DAY,
              CAST('1970-01-01' AS DATE),
              CAST(FROM_UTC_TIMESTAMP(first_ts, 'Europe/Berlin') AS DATE)
            )
          ) * 86400000000
        END AS tenure,
        CASE
          WHEN n > 0
          THEN CAST(n * 30 AS DOUBLE) / GREATEST(
            CAST((
              19889 - DATEDIFF(
                DAY,
                CAST('1970-01-01' AS DATE),
                CAST(FROM_UTC_TIMESTAMP(first_ts, 'Europe/Berlin') AS DATE)
              )
            ) * 86400000000 AS DOUBLE) / 86400000000,
            30.0
          )
        END AS orders_per_month,
        CASE
          WHEN n > 1
          THEN CAST(CAST((
            DATEDIFF(
              DAY,
              CAST('1970-01-01' AS DATE),
              CAST(FROM_UTC_TIMESTAMP(last_ts, 'Europe/Berlin') AS DATE)
            ) - DATEDIFF(
              DAY,
              CAST('1970-01-01' AS DATE),
              CAST(FROM_UTC_TIMESTAMP(first_ts, 'Europe/Berlin') AS DATE)
            )
          ) * 86400000000 AS DOUBLE) / 86400000000 AS DOUBLE) / (
            n - 1
          )
        END AS days_between_orders,
        CASE
          WHEN n > 0
          THEN (
            19889 - DATEDIFF(
              DAY,
              CAST('1970-01-01' AS DATE),
              CAST(FROM_UTC_TIMESTAMP(last_ts, 'Europe/Berlin') AS DATE)
            )
          ) * 86400000000 > 10368000000000
        END AS churned,
        CAST(margin AS DOUBLE) / 100 AS clv_historical
      FROM `metric:purchase:totals`
    ) AS `metric:purchase`
      ON `profiles`.`email` = `metric:purchase`.email
    LEFT JOIN (
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
        ) + rfm_m AS STRING) AS rfm_score,
        CASE
          WHEN rfm_r = 1 AND (
            rfm_f + rfm_m
          ) DIV 2 = 1
          THEN 'Lost'
          WHEN rfm_r = 1 AND (
            rfm_f + rfm_m
          ) DIV 2 = 2
          THEN 'Lost'
          WHEN rfm_r = 1 AND (
            rfm_f + rfm_m
          ) DIV 2 = 3
          THEN 'At Risk'
          WHEN rfm_r = 1 AND (
            rfm_f + rfm_m
          ) DIV 2 = 4
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 1 AND (
            rfm_f + rfm_m
          ) DIV 2 = 5
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 2 AND (
            rfm_f + rfm_m
          ) DIV 2 = 1
          THEN 'Hibernating'
          WHEN rfm_r = 2 AND (
            rfm_f + rfm_m
          ) DIV 2 = 2
          THEN 'Hibernating'
          WHEN rfm_r = 2 AND (
            rfm_f + rfm_m
          ) DIV 2 = 3
          THEN 'At Risk'
          WHEN rfm_r = 2 AND (
            rfm_f + rfm_m
          ) DIV 2 = 4
          THEN 'At Risk'
          WHEN rfm_r = 2 AND (
            rfm_f + rfm_m
          ) DIV 2 = 5
          THEN 'Cannot Lose Them'
          WHEN rfm_r = 3 AND (
            rfm_f + rfm_m
          ) DIV 2 = 1
          THEN 'About To Sleep'
          WHEN rfm_r = 3 AND (
            rfm_f + rfm_m
          ) DIV 2 = 2
          THEN 'About To Sleep'
          WHEN rfm_r = 3 AND (
            rfm_f + rfm_m
          ) DIV 2 = 3
          THEN 'Need Attention'
          WHEN rfm_r = 3 AND (
            rfm_f + rfm_m
          ) DIV 2 = 4
          THEN 'Loyal'
          WHEN rfm_r = 3 AND (
            rfm_f + rfm_m
          ) DIV 2 = 5
          THEN 'Loyal'
          WHEN rfm_r = 4 AND (
            rfm_f + rfm_m
          ) DIV 2 = 1
          THEN 'Promising'
          WHEN rfm_r = 4 AND (
            rfm_f + rfm_m
          ) DIV 2 = 2
          THEN 'Potential Loyalist'
          WHEN rfm_r = 4 AND (
            rfm_f + rfm_m
          ) DIV 2 = 3
          THEN 'Loyal'
          WHEN rfm_r = 4 AND (
            rfm_f + rfm_m
          ) DIV 2 = 4
          THEN 'Champions'
          WHEN rfm_r = 4 AND (
            rfm_f + rfm_m
          ) DIV 2 = 5
          THEN 'Champions'
          WHEN rfm_r = 5 AND (
            rfm_f + rfm_m
          ) DIV 2 = 1
          THEN 'New Customers'
          WHEN rfm_r = 5 AND (
            rfm_f + rfm_m
          ) DIV 2 = 2
          THEN 'Potential Loyalist'
          WHEN rfm_r = 5 AND (
            rfm_f + rfm_m
          ) DIV 2 = 3
          THEN 'Loyal'
          WHEN rfm_r = 5 AND (
            rfm_f + rfm_m
          ) DIV 2 = 4
          THEN 'Champions'
          WHEN rfm_r = 5 AND (
            rfm_f + rfm_m
          ) DIV 2 = 5
          THEN 'Champions'
        END AS rfm_segment
      FROM `metric:rfm:scored`
    ) AS `metric:rfm`
      ON `profiles`.`email` = `metric:rfm`.email
  ) AS `profiles`
), `events:orders` AS (
  SELECT
    `email`,
    CASE
      WHEN UNIX_MICROS(`ordered_at`) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(`ordered_at`) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(`ordered_at`)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(`ordered_at`) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')
    END AS `__timestamp`,
    CASE WHEN ISNAN(`amount`) THEN NULL ELSE CAST(`amount` AS DOUBLE) END AS `e:amount`
  FROM (
    SELECT
      NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS `email`,
      `ordered_at` AS `ordered_at`,
      `amount` AS `amount`,
      `order_id` AS `order_id`,
      `margin` AS `margin`
    FROM `orders`
  ) AS `orders`
  WHERE
    NOT `email` IS NULL
    AND NOT CASE
      WHEN UNIX_MICROS(`ordered_at`) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(`ordered_at`) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(`ordered_at`)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(`ordered_at`) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')
    END IS NULL
    AND CASE
      WHEN UNIX_MICROS(`ordered_at`) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(`ordered_at`) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(`ordered_at`)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(`ordered_at`) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')
    END <= CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP)
    AND CASE
      WHEN UNIX_MICROS(`ordered_at`) - (
        UNIX_MICROS(
          FROM_UTC_TIMESTAMP(
            TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
            'Europe/Berlin'
          )
        ) - (
          UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
        )
      ) > UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin'))
      AND UNIX_MICROS(
        FROM_UTC_TIMESTAMP(
          TIMESTAMP_MICROS(
            UNIX_MICROS(`ordered_at`) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
              )
            )
          ),
          'Europe/Berlin'
        )
      ) = UNIX_MICROS(`ordered_at`)
      THEN TIMESTAMP_MICROS(
        UNIX_MICROS(`ordered_at`) - (
          UNIX_MICROS(
            FROM_UTC_TIMESTAMP(
              TIMESTAMP_MICROS(UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000),
              'Europe/Berlin'
            )
          ) - (
            UNIX_MICROS(TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')) + 86400000000
          )
        )
      )
      ELSE TO_UTC_TIMESTAMP(`ordered_at`, 'Europe/Berlin')
    END >= CAST('2023-06-16 21:59:59.999999' AS TIMESTAMP)
), `aggregates:orders` AS (
  SELECT
    `email`,
    COUNT(*) FILTER(WHERE
      `__timestamp` >= CAST('2024-05-16 21:59:59.999999' AS TIMESTAMP)) AS `aggregate:0`,
    SUM(`e:amount`) AS `aggregate:1`
  FROM `events:orders`
  GROUP BY
    `email`
), `joined` AS (
  SELECT
    `base`.*,
    COALESCE(`aggregates:orders`.`aggregate:0`, 0) AS `aggregate:0`,
    `aggregates:orders`.`aggregate:1` AS `aggregate:1`
  FROM `base`
  LEFT JOIN `aggregates:orders`
    ON `base`.`email` = `aggregates:orders`.`email`
), `layer:1` AS (
  SELECT
    *,
    COALESCE(`frequency` >= 3 AND `recency` <= 10368000000000 /* 120d */, FALSE) AS `segment:loyal`,
    COALESCE(`monetary` >= CAST(400 AS DOUBLE) AND `aov` > CAST(90.5 AS DOUBLE), FALSE) AS `segment:big`,
    COALESCE(`rfm_segment` = 'Champions' OR `rfm_score` = '555', FALSE) AS `segment:champions`,
    COALESCE(
      `tenure` < 17280000000000 /* 200d */
      AND `first_order_at` > CAST('2023-12-31 23:00:00.000000' AS TIMESTAMP),
      FALSE
    ) AS `segment:newcomers`,
    COALESCE(
      `last_order_at` >= TIMESTAMP_MICROS(
        UNIX_MICROS(CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP)) - 2592000000000 /* 30d */
      )
      AND `country` IN ('DE', 'FR'),
      FALSE
    ) AS `segment:lately`,
    COALESCE(`churned` AND `clv_historical` > CAST(50 AS DOUBLE) AND `rfm_r` <= 2, FALSE) AS `segment:lost`,
    COALESCE(
      `orders_per_month` > CAST(0.5 AS DOUBLE)
      OR `days_between_orders` < CAST(30 AS DOUBLE),
      FALSE
    ) AS `segment:steady`,
    COALESCE(`frequency` IS NULL AND `signup_date` < CAST('2024-01-01' AS DATE), FALSE) AS `segment:never_bought`,
    COALESCE(
      CASE
        WHEN `recency` IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (ORDER BY `recency` ASC NULLS LAST) - 1
        ) * 100 < COUNT(`recency`) OVER () * 20
      END,
      FALSE
    ) AS `segment:recency_top`,
    CASE
      WHEN (
        `rfm_f` + `rfm_m`
      ) >= 8
      THEN 'best'
      WHEN `rfm_m` >= 3
      AND (
        CAST(`recency` AS DOUBLE) / CAST(86400000000.0 AS DOUBLE)
      ) < CAST(200 AS DOUBLE)
      THEN 'good'
      ELSE 'rest'
    END AS `segment:tier`,
    COALESCE(
      `aggregate:0` >= 1 AND `aggregate:1` > CAST(200 AS DOUBLE) AND `frequency` >= 2,
      FALSE
    ) AS `segment:buying_again`
  FROM `joined`
), `layer:2` AS (
  SELECT
    *,
    COALESCE(`segment:lost` AND NOT `segment:loyal`, FALSE) AS `segment:win_back`
  FROM `layer:1`
), `holdouts` AS (
  SELECT
    *,
    CASE
      WHEN `segment:win_back`
      THEN LEFT(SHA2('metrics-2024:win_back:' || CAST(`email` AS STRING), 256), 16) < '4000000000000000'
      ELSE FALSE
    END AS `holdout:win_back`
  FROM `layer:2`
)
SELECT
  `email`,
  `segment:loyal` AS `loyal`,
  `segment:big` AS `big`,
  `segment:champions` AS `champions`,
  `segment:newcomers` AS `newcomers`,
  `segment:lately` AS `lately`,
  `segment:lost` AS `lost`,
  `segment:steady` AS `steady`,
  `segment:never_bought` AS `never_bought`,
  `segment:recency_top` AS `recency_top`,
  `segment:win_back` AND NOT `holdout:win_back` AS `win_back`,
  `segment:win_back` AND `holdout:win_back` AS `win_back__holdout`,
  `segment:tier` AS `tier`,
  `segment:buying_again` AS `buying_again`
FROM `holdouts`
ORDER BY
  `email`;
