WITH `base` AS (
  SELECT
    `email`,
    `frequency`,
    `recency`,
    CASE WHEN IS_NAN(`monetary`) THEN NULL ELSE CAST(`monetary` AS FLOAT64) END AS `monetary`,
    CASE WHEN IS_NAN(`aov`) THEN NULL ELSE CAST(`aov` AS FLOAT64) END AS `aov`,
    `rfm_segment`,
    `rfm_score`,
    `tenure`,
    `first_order_at`,
    `last_order_at`,
    `country`,
    `churned`,
    CASE
      WHEN IS_NAN(`clv_historical`)
      THEN NULL
      ELSE CAST(`clv_historical` AS FLOAT64)
    END AS `clv_historical`,
    `rfm_r`,
    CASE
      WHEN IS_NAN(`orders_per_month`)
      THEN NULL
      ELSE CAST(`orders_per_month` AS FLOAT64)
    END AS `orders_per_month`,
    CASE
      WHEN IS_NAN(`days_between_orders`)
      THEN NULL
      ELSE CAST(`days_between_orders` AS FLOAT64)
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
      WITH `metric:purchase:lines` AS (
        SELECT
          email AS k,
          CAST(order_id AS STRING) AS order_id,
          UNIX_MICROS(
            TIMESTAMP(
              CASE
                WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
                AND UNIX_MICROS(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP_MICROS(
                            UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                              UNIX_MICROS(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP(
                                      DATETIME(
                                        TIMESTAMP_MICROS(
                                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                        )
                                      ),
                                      'UTC'
                                    ),
                                    'Europe/Berlin'
                                  )
                                )
                              ) - (
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            )
                          )
                        ),
                        'UTC'
                      ),
                      'Europe/Berlin'
                    )
                  )
                ) = UNIX_MICROS(TIMESTAMP(ordered_at))
                THEN DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                      UNIX_MICROS(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP_MICROS(
                                  UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                )
                              ),
                              'UTC'
                            ),
                            'Europe/Berlin'
                          )
                        )
                      ) - (
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    )
                  )
                )
                ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
              END
            )
          ) AS `at`,
          CASE
            WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
              UNIX_MICROS(
                TIMESTAMP(
                  DATETIME(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP_MICROS(
                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                        )
                      ),
                      'UTC'
                    ),
                    'Europe/Berlin'
                  )
                )
              ) - (
                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
              )
            ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
            AND UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                          UNIX_MICROS(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP_MICROS(
                                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                    )
                                  ),
                                  'UTC'
                                ),
                                'Europe/Berlin'
                              )
                            )
                          ) - (
                            UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                          )
                        )
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) = UNIX_MICROS(TIMESTAMP(ordered_at))
            THEN DATETIME(
              TIMESTAMP_MICROS(
                UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                )
              )
            )
            ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
          END AS ts,
          CAST(CASE
            WHEN (
              CAST(amount AS FLOAT64) * 100
            ) - FLOOR(CAST(amount AS FLOAT64) * 100) < 0.5
            THEN FLOOR(CAST(amount AS FLOAT64) * 100)
            WHEN (
              CAST(amount AS FLOAT64) * 100
            ) - FLOOR(CAST(amount AS FLOAT64) * 100) > 0.5
            THEN FLOOR(CAST(amount AS FLOAT64) * 100) + 1
            WHEN MOD(CAST(FLOOR(CAST(amount AS FLOAT64) * 100) AS INT64), 2) = 0
            THEN FLOOR(CAST(amount AS FLOAT64) * 100)
            ELSE FLOOR(CAST(amount AS FLOAT64) * 100) + 1
          END AS INT64) AS units,
          CAST(CASE
            WHEN (
              CAST(margin AS FLOAT64) * 100
            ) - FLOOR(CAST(margin AS FLOAT64) * 100) < 0.5
            THEN FLOOR(CAST(margin AS FLOAT64) * 100)
            WHEN (
              CAST(margin AS FLOAT64) * 100
            ) - FLOOR(CAST(margin AS FLOAT64) * 100) > 0.5
            THEN FLOOR(CAST(margin AS FLOAT64) * 100) + 1
            WHEN MOD(CAST(FLOOR(CAST(margin AS FLOAT64) * 100) AS INT64), 2) = 0
            THEN FLOOR(CAST(margin AS FLOAT64) * 100)
            ELSE FLOOR(CAST(margin AS FLOAT64) * 100) + 1
          END AS INT64) AS margin
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
            TIMESTAMP(
              CASE
                WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
                AND UNIX_MICROS(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP_MICROS(
                            UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                              UNIX_MICROS(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP(
                                      DATETIME(
                                        TIMESTAMP_MICROS(
                                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                        )
                                      ),
                                      'UTC'
                                    ),
                                    'Europe/Berlin'
                                  )
                                )
                              ) - (
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            )
                          )
                        ),
                        'UTC'
                      ),
                      'Europe/Berlin'
                    )
                  )
                ) = UNIX_MICROS(TIMESTAMP(ordered_at))
                THEN DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                      UNIX_MICROS(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP_MICROS(
                                  UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                )
                              ),
                              'UTC'
                            ),
                            'Europe/Berlin'
                          )
                        )
                      ) - (
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    )
                  )
                )
                ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
              END
            )
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
            MIN(`at`) AS first_at,
            MAX(`at`) AS last_at,
            MIN(ts) AS first_ts,
            MAX(ts) AS last_ts
          FROM (
            SELECT
              k,
              MIN(`at`) AS `at`,
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
              `at`,
              ts
            FROM `metric:purchase:lines`
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
            19889 - UNIX_DATE(CAST(DATETIME(TIMESTAMP(last_ts, 'UTC'), 'Europe/Berlin') AS DATE))
          ) * 86400000000
        END AS recency,
        n AS frequency,
        CAST(units AS FLOAT64) / 100 AS monetary,
        CASE WHEN n > 0 THEN CAST(CAST(units AS FLOAT64) / n AS FLOAT64) / 100 END AS aov,
        first_ts AS first_order_at,
        last_ts AS last_order_at,
        CASE
          WHEN n > 0
          THEN (
            19889 - UNIX_DATE(CAST(DATETIME(TIMESTAMP(first_ts, 'UTC'), 'Europe/Berlin') AS DATE))
          ) * 86400000000
        END AS tenure,
        CASE
          WHEN n > 0
          THEN CAST(n * 30 AS FLOAT64) / GREATEST(
            CAST((
              19889 - UNIX_DATE(CAST(DATETIME(TIMESTAMP(first_ts, 'UTC'), 'Europe/Berlin') AS DATE))
            ) * 86400000000 AS FLOAT64) / 86400000000,
            30.0
          )
        END AS orders_per_month,
        CASE
          WHEN n > 1
          THEN CAST(CAST((
            UNIX_DATE(CAST(DATETIME(TIMESTAMP(last_ts, 'UTC'), 'Europe/Berlin') AS DATE)) - UNIX_DATE(CAST(DATETIME(TIMESTAMP(first_ts, 'UTC'), 'Europe/Berlin') AS DATE))
          ) * 86400000000 AS FLOAT64) / 86400000000 AS FLOAT64) / (
            n - 1
          )
        END AS days_between_orders,
        CASE
          WHEN n > 0
          THEN (
            19889 - UNIX_DATE(CAST(DATETIME(TIMESTAMP(last_ts, 'UTC'), 'Europe/Berlin') AS DATE))
          ) * 86400000000 > 10368000000000
        END AS churned,
        CAST(margin AS FLOAT64) / 100 AS clv_historical
      FROM `metric:purchase:totals`
    ) AS `metric:purchase`
      ON `profiles`.`email` = `metric:purchase`.email
    LEFT JOIN (
      WITH `metric:rfm:lines` AS (
        SELECT
          email AS k,
          CAST(order_id AS STRING) AS order_id,
          UNIX_MICROS(
            TIMESTAMP(
              CASE
                WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
                AND UNIX_MICROS(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP_MICROS(
                            UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                              UNIX_MICROS(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP(
                                      DATETIME(
                                        TIMESTAMP_MICROS(
                                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                        )
                                      ),
                                      'UTC'
                                    ),
                                    'Europe/Berlin'
                                  )
                                )
                              ) - (
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            )
                          )
                        ),
                        'UTC'
                      ),
                      'Europe/Berlin'
                    )
                  )
                ) = UNIX_MICROS(TIMESTAMP(ordered_at))
                THEN DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                      UNIX_MICROS(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP_MICROS(
                                  UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                )
                              ),
                              'UTC'
                            ),
                            'Europe/Berlin'
                          )
                        )
                      ) - (
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    )
                  )
                )
                ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
              END
            )
          ) AS `at`,
          CASE
            WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
              UNIX_MICROS(
                TIMESTAMP(
                  DATETIME(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP_MICROS(
                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                        )
                      ),
                      'UTC'
                    ),
                    'Europe/Berlin'
                  )
                )
              ) - (
                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
              )
            ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
            AND UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                          UNIX_MICROS(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP_MICROS(
                                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                    )
                                  ),
                                  'UTC'
                                ),
                                'Europe/Berlin'
                              )
                            )
                          ) - (
                            UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                          )
                        )
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) = UNIX_MICROS(TIMESTAMP(ordered_at))
            THEN DATETIME(
              TIMESTAMP_MICROS(
                UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                )
              )
            )
            ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
          END AS ts,
          CAST(CASE
            WHEN (
              CAST(amount AS FLOAT64) * 100
            ) - FLOOR(CAST(amount AS FLOAT64) * 100) < 0.5
            THEN FLOOR(CAST(amount AS FLOAT64) * 100)
            WHEN (
              CAST(amount AS FLOAT64) * 100
            ) - FLOOR(CAST(amount AS FLOAT64) * 100) > 0.5
            THEN FLOOR(CAST(amount AS FLOAT64) * 100) + 1
            WHEN MOD(CAST(FLOOR(CAST(amount AS FLOAT64) * 100) AS INT64), 2) = 0
            THEN FLOOR(CAST(amount AS FLOAT64) * 100)
            ELSE FLOOR(CAST(amount AS FLOAT64) * 100) + 1
          END AS INT64) AS units
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
            TIMESTAMP(
              CASE
                WHEN UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                  UNIX_MICROS(
                    TIMESTAMP(
                      DATETIME(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP_MICROS(
                              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                            )
                          ),
                          'UTC'
                        ),
                        'Europe/Berlin'
                      )
                    )
                  ) - (
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')))
                AND UNIX_MICROS(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP_MICROS(
                            UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                              UNIX_MICROS(
                                TIMESTAMP(
                                  DATETIME(
                                    TIMESTAMP(
                                      DATETIME(
                                        TIMESTAMP_MICROS(
                                          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                        )
                                      ),
                                      'UTC'
                                    ),
                                    'Europe/Berlin'
                                  )
                                )
                              ) - (
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            )
                          )
                        ),
                        'UTC'
                      ),
                      'Europe/Berlin'
                    )
                  )
                ) = UNIX_MICROS(TIMESTAMP(ordered_at))
                THEN DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(ordered_at)) - (
                      UNIX_MICROS(
                        TIMESTAMP(
                          DATETIME(
                            TIMESTAMP(
                              DATETIME(
                                TIMESTAMP_MICROS(
                                  UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                                )
                              ),
                              'UTC'
                            ),
                            'Europe/Berlin'
                          )
                        )
                      ) - (
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    )
                  )
                )
                ELSE DATETIME(TIMESTAMP(ordered_at, 'Europe/Berlin'), 'UTC')
              END
            )
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
            MIN(`at`) AS first_at,
            MAX(`at`) AS last_at,
            MIN(ts) AS first_ts,
            MAX(ts) AS last_ts
          FROM (
            SELECT
              k,
              MIN(`at`) AS `at`,
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
              `at`,
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
              DIV(
                (
                  5 * (
                    RANK() OVER (
                      PARTITION BY CASE WHEN n > 0 THEN 1 END
                      ORDER BY CASE
                        WHEN n > 0
                        THEN (
                          19889 - UNIX_DATE(CAST(DATETIME(TIMESTAMP(last_ts, 'UTC'), 'Europe/Berlin') AS DATE))
                        ) * 86400000000
                      END DESC
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
                    RANK() OVER (PARTITION BY CASE WHEN n > 0 THEN 1 END ORDER BY n ASC NULLS LAST) - 1
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
                      ORDER BY CASE WHEN n > 0 THEN units END ASC NULLS LAST
                    ) - 1
                  )
                ),
                COUNT(CASE WHEN n > 0 THEN 1 END) OVER ()
              )
            )
          END AS rfm_m
        FROM `metric:rfm:totals`
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
        ) + rfm_m AS STRING) AS rfm_score,
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
      FROM `metric:rfm:scored`
    ) AS `metric:rfm`
      ON `profiles`.`email` = `metric:rfm`.email
  ) AS `profiles`
), `events:orders` AS (
  SELECT
    `email`,
    CASE
      WHEN UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
        UNIX_MICROS(
          TIMESTAMP(
            DATETIME(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ),
                'UTC'
              ),
              'Europe/Berlin'
            )
          )
        ) - (
          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
        )
      ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')))
      AND UNIX_MICROS(
        TIMESTAMP(
          DATETIME(
            TIMESTAMP(
              DATETIME(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
                    UNIX_MICROS(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP(
                            DATETIME(
                              TIMESTAMP_MICROS(
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            ),
                            'UTC'
                          ),
                          'Europe/Berlin'
                        )
                      )
                    ) - (
                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                    )
                  )
                )
              ),
              'UTC'
            ),
            'Europe/Berlin'
          )
        )
      ) = UNIX_MICROS(TIMESTAMP(`ordered_at`))
      THEN DATETIME(
        TIMESTAMP_MICROS(
          UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
            UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) - (
              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
            )
          )
        )
      )
      ELSE DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')
    END AS `__timestamp`,
    CASE WHEN IS_NAN(`amount`) THEN NULL ELSE CAST(`amount` AS FLOAT64) END AS `e:amount`
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
      WHEN UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
        UNIX_MICROS(
          TIMESTAMP(
            DATETIME(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ),
                'UTC'
              ),
              'Europe/Berlin'
            )
          )
        ) - (
          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
        )
      ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')))
      AND UNIX_MICROS(
        TIMESTAMP(
          DATETIME(
            TIMESTAMP(
              DATETIME(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
                    UNIX_MICROS(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP(
                            DATETIME(
                              TIMESTAMP_MICROS(
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            ),
                            'UTC'
                          ),
                          'Europe/Berlin'
                        )
                      )
                    ) - (
                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                    )
                  )
                )
              ),
              'UTC'
            ),
            'Europe/Berlin'
          )
        )
      ) = UNIX_MICROS(TIMESTAMP(`ordered_at`))
      THEN DATETIME(
        TIMESTAMP_MICROS(
          UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
            UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) - (
              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
            )
          )
        )
      )
      ELSE DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')
    END IS NULL
    AND CASE
      WHEN UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
        UNIX_MICROS(
          TIMESTAMP(
            DATETIME(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ),
                'UTC'
              ),
              'Europe/Berlin'
            )
          )
        ) - (
          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
        )
      ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')))
      AND UNIX_MICROS(
        TIMESTAMP(
          DATETIME(
            TIMESTAMP(
              DATETIME(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
                    UNIX_MICROS(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP(
                            DATETIME(
                              TIMESTAMP_MICROS(
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            ),
                            'UTC'
                          ),
                          'Europe/Berlin'
                        )
                      )
                    ) - (
                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                    )
                  )
                )
              ),
              'UTC'
            ),
            'Europe/Berlin'
          )
        )
      ) = UNIX_MICROS(TIMESTAMP(`ordered_at`))
      THEN DATETIME(
        TIMESTAMP_MICROS(
          UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
            UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) - (
              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
            )
          )
        )
      )
      ELSE DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')
    END <= CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP)
    AND CASE
      WHEN UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
        UNIX_MICROS(
          TIMESTAMP(
            DATETIME(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                  )
                ),
                'UTC'
              ),
              'Europe/Berlin'
            )
          )
        ) - (
          UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
        )
      ) > UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')))
      AND UNIX_MICROS(
        TIMESTAMP(
          DATETIME(
            TIMESTAMP(
              DATETIME(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
                    UNIX_MICROS(
                      TIMESTAMP(
                        DATETIME(
                          TIMESTAMP(
                            DATETIME(
                              TIMESTAMP_MICROS(
                                UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                              )
                            ),
                            'UTC'
                          ),
                          'Europe/Berlin'
                        )
                      )
                    ) - (
                      UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                    )
                  )
                )
              ),
              'UTC'
            ),
            'Europe/Berlin'
          )
        )
      ) = UNIX_MICROS(TIMESTAMP(`ordered_at`))
      THEN DATETIME(
        TIMESTAMP_MICROS(
          UNIX_MICROS(TIMESTAMP(`ordered_at`)) - (
            UNIX_MICROS(
              TIMESTAMP(
                DATETIME(
                  TIMESTAMP(
                    DATETIME(
                      TIMESTAMP_MICROS(
                        UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
                      )
                    ),
                    'UTC'
                  ),
                  'Europe/Berlin'
                )
              )
            ) - (
              UNIX_MICROS(TIMESTAMP(DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC'))) + 86400000000
            )
          )
        )
      )
      ELSE DATETIME(TIMESTAMP(`ordered_at`, 'Europe/Berlin'), 'UTC')
    END >= CAST('2023-06-16 21:59:59.999999' AS TIMESTAMP)
), `aggregates:orders` AS (
  SELECT
    `email`,
    COUNT(
      CASE
        WHEN `__timestamp` >= CAST('2024-05-16 21:59:59.999999' AS TIMESTAMP)
        THEN 1
      END
    ) AS `aggregate:0`,
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
    COALESCE(`monetary` >= CAST(400 AS FLOAT64) AND `aov` > CAST(90.5 AS FLOAT64), FALSE) AS `segment:big`,
    COALESCE(`rfm_segment` = 'Champions' OR `rfm_score` = '555', FALSE) AS `segment:champions`,
    COALESCE(
      `tenure` < 17280000000000 /* 200d */
      AND `first_order_at` > CAST('2023-12-31 23:00:00.000000' AS TIMESTAMP),
      FALSE
    ) AS `segment:newcomers`,
    COALESCE(
      `last_order_at` >= DATETIME(
        TIMESTAMP_MICROS(
          UNIX_MICROS(TIMESTAMP(CAST('2024-06-15 21:59:59.999999' AS TIMESTAMP))) - 2592000000000 /* 30d */
        )
      )
      AND `country` IN ('DE', 'FR'),
      FALSE
    ) AS `segment:lately`,
    COALESCE(`churned` AND `clv_historical` > CAST(50 AS FLOAT64) AND `rfm_r` <= 2, FALSE) AS `segment:lost`,
    COALESCE(
      `orders_per_month` > CAST(0.5 AS FLOAT64)
      OR `days_between_orders` < CAST(30 AS FLOAT64),
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
        CAST(`recency` AS FLOAT64) / CAST(86400000000.0 AS FLOAT64)
      ) < CAST(200 AS FLOAT64)
      THEN 'good'
      ELSE 'rest'
    END AS `segment:tier`,
    COALESCE(
      `aggregate:0` >= 1 AND `aggregate:1` > CAST(200 AS FLOAT64) AND `frequency` >= 2,
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
      THEN LEFT(TO_HEX(SHA256('metrics-2024:win_back:' || CAST(`email` AS STRING))), 16) < '4000000000000000'
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
