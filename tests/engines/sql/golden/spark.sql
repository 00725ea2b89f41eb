WITH `base` AS (
  SELECT
    `email`,
    `last_order_date`,
    CAST(`frequency` AS BIGINT) AS `frequency`,
    CASE WHEN ISNAN(`monetary`) THEN NULL ELSE CAST(`monetary` AS DOUBLE) END AS `monetary`,
    `country`,
    `email_consent`,
    CASE WHEN ISNAN(`aov`) THEN NULL ELSE CAST(`aov` AS DOUBLE) END AS `aov`,
    `email_address`,
    `city`,
    `interests`,
    CAST(CAST(`last_seen_at` AS TIMESTAMP) AS TIMESTAMP) AS `last_seen_at`,
    `signup_date`
  FROM (
    SELECT
      COALESCE(`crm`.`email`, `shop`.`email`) AS `email`,
      `crm`.`country`,
      `crm`.`email_consent`,
      `crm`.`email_address`,
      `crm`.`city`,
      `crm`.`interests`,
      `crm`.`last_seen_at`,
      `crm`.`signup_date`,
      `shop`.`last_order_date`,
      `shop`.`frequency`,
      `shop`.`monetary`,
      `shop`.`aov`
    FROM (
      SELECT
        NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS `email`,
        `country`,
        `email_consent`,
        `email_address`,
        `city`,
        `interests`,
        `last_seen_at`,
        `signup_date`
      FROM `crm`
    ) AS `crm`
    FULL JOIN (
      SELECT
        NULLIF(LOWER(TRIM(CAST(`email` AS STRING))), '') AS `email`,
        `last_order_date`,
        `frequency`,
        `monetary`,
        `aov`
      FROM `shop`
    ) AS `shop`
      ON `crm`.`email` = `shop`.`email`
  ) AS `profiles`
), `events:sales` AS (
  SELECT
    `email`,
    CAST(CAST(`ordered_at` AS TIMESTAMP) AS TIMESTAMP) AS `__timestamp`,
    `category` AS `e:category`,
    CASE WHEN ISNAN(`amount`) THEN NULL ELSE CAST(`amount` AS DOUBLE) END AS `e:amount`,
    `channel` AS `e:channel`
  FROM `sales`
  WHERE
    NOT `email` IS NULL
    AND NOT CAST(CAST(`ordered_at` AS TIMESTAMP) AS TIMESTAMP) IS NULL
    AND CAST(CAST(`ordered_at` AS TIMESTAMP) AS TIMESTAMP) <= CAST('2026-01-31 22:59:59.999999' AS TIMESTAMP)
), `best:sales` AS (
  SELECT
    `email`,
    MIN(`__timestamp`) FILTER(WHERE
      NOT `e:channel` IS NULL) AS `best:aggregate:5`,
    MAX(`__timestamp`) FILTER(WHERE
      NOT `e:channel` IS NULL) AS `best:aggregate:6`
  FROM `events:sales`
  GROUP BY
    `email`
), `aggregates:sales` AS (
  SELECT
    `events:sales`.`email`,
    COUNT(*) FILTER(WHERE
      `__timestamp` >= CAST('2025-01-31 22:59:59.999999' AS TIMESTAMP)
      AND COALESCE(`e:category` = 'shoes', FALSE)) AS `aggregate:0`,
    COUNT(*) FILTER(WHERE
      `__timestamp` >= CAST('2025-08-04 22:59:59.999999' AS TIMESTAMP)
      AND `__timestamp` <= CAST('2025-11-02 22:59:59.999999' AS TIMESTAMP)) AS `aggregate:1`,
    COUNT(*) FILTER(WHERE
      `__timestamp` >= CAST('2025-11-02 22:59:59.999999' AS TIMESTAMP)) AS `aggregate:2`,
    SUM(`e:amount`) FILTER(WHERE
      `__timestamp` >= CAST('2025-09-30 22:00:00.000000' AS TIMESTAMP)
      AND `__timestamp` <= CAST('2025-12-31 22:59:59.999999' AS TIMESTAMP)) AS `aggregate:3`,
    AVG(CAST(`e:amount` AS DOUBLE)) AS `aggregate:4`,
    MIN(`e:channel`) FILTER(WHERE
      NOT `e:channel` IS NULL AND `__timestamp` = `best:aggregate:5`) AS `aggregate:5`,
    MAX(`e:channel`) FILTER(WHERE
      NOT `e:channel` IS NULL AND `__timestamp` = `best:aggregate:6`) AS `aggregate:6`,
    CASE
      WHEN COUNT(*) FILTER(WHERE
        `__timestamp` >= CAST('2024-12-31 23:00:00.000000' AS TIMESTAMP)) > 0
      THEN COUNT(DISTINCT `e:category`) FILTER(WHERE
        `__timestamp` >= CAST('2024-12-31 23:00:00.000000' AS TIMESTAMP))
    END AS `aggregate:7`,
    MAX(`e:amount`) AS `aggregate:8`
  FROM `events:sales`
  LEFT JOIN `best:sales`
    ON `events:sales`.`email` = `best:sales`.`email`
  GROUP BY
    `events:sales`.`email`
), `joined` AS (
  SELECT
    `base`.*,
    COALESCE(`aggregates:sales`.`aggregate:0`, 0) AS `aggregate:0`,
    COALESCE(`aggregates:sales`.`aggregate:1`, 0) AS `aggregate:1`,
    COALESCE(`aggregates:sales`.`aggregate:2` > 0, FALSE) AS `aggregate:2`,
    `aggregates:sales`.`aggregate:3` AS `aggregate:3`,
    `aggregates:sales`.`aggregate:4` AS `aggregate:4`,
    `aggregates:sales`.`aggregate:5` AS `aggregate:5`,
    `aggregates:sales`.`aggregate:6` AS `aggregate:6`,
    `aggregates:sales`.`aggregate:7` AS `aggregate:7`,
    `aggregates:sales`.`aggregate:8` AS `aggregate:8`
  FROM `base`
  LEFT JOIN `aggregates:sales`
    ON `base`.`email` = `aggregates:sales`.`email`
), `layer:1` AS (
  SELECT
    *,
    COALESCE(
      `last_order_date` >= CAST('2025-11-02' AS DATE)
      AND `last_order_date` <= CAST('2026-01-31' AS DATE)
      AND `frequency` >= 5
      AND `monetary` >= CAST(500.5 AS DOUBLE),
      FALSE
    ) AS `segment:champions`,
    COALESCE(`country` IN ('DE', 'FR', NULL) AND `email_consent`, FALSE) AS `segment:eu_email`,
    COALESCE(NOT `country` IN ('DE', 'FR') OR `country` IS NULL, FALSE) AS `segment:not_eu`,
    COALESCE(
      `monetary` >= CAST(100 AS DOUBLE)
      AND `monetary` <= CAST(500 AS DOUBLE)
      AND NOT `aov` > (
        CAST(CAST(2 AS DOUBLE) * `monetary` AS DOUBLE) / NULLIF(CAST(`frequency` AS DOUBLE), CAST(0.0 AS DOUBLE))
      ),
      FALSE
    ) AS `segment:mid`,
    COALESCE(ENDSWITH(LOWER(`email_address`), '@gmail.com') AND STARTSWITH(`city`, 'B'), FALSE) AS `segment:gmail`,
    COALESCE(
      (
        INSTR(`city`, 'Berlin') > 0 OR INSTR(`city`, 'Köln') > 0
      )
      AND `city` RLIKE '^[A-Z][a-z]+\\z',
      FALSE
    ) AS `segment:searched`,
    COALESCE(
      CASE
        WHEN `interests` IS NULL
        THEN NULL
        ELSE COALESCE(ARRAY_CONTAINS(`interests`, 'yoga'), FALSE)
        AND COALESCE(ARRAY_CONTAINS(`interests`, 'run'), FALSE)
      END
      OR CAST(SIZE(`interests`) AS BIGINT) = 0,
      FALSE
    ) AS `segment:yogis`,
    COALESCE(
      `last_seen_at` >= TIMESTAMP_MICROS(
        UNIX_MICROS(CAST('2026-01-31 22:59:59.999999' AS TIMESTAMP)) - 43200000000 /* 12h */
      )
      AND TIMESTAMP_MICROS(
        UNIX_MICROS(
          CASE
            WHEN UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                  ),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
              )
            ) > UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin'))
            AND UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
                    UNIX_MICROS(
                      FROM_UTC_TIMESTAMP(
                        TIMESTAMP_MICROS(
                          UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                        ),
                        'Europe/Berlin'
                      )
                    ) - (
                      UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                    )
                  )
                ),
                'Europe/Berlin'
              )
            ) = UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP))
            THEN TIMESTAMP_MICROS(
              UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(
                      UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                    ),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                )
              )
            )
            ELSE TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')
          END
        ) + 2592000000000 /* 30d */
      ) < `last_seen_at`,
      FALSE
    ) AS `segment:recent`,
    COALESCE(
      (
        UNIX_MICROS(CAST('2026-01-30 23:00:00.000000' AS TIMESTAMP)) - UNIX_MICROS(
          CASE
            WHEN UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
              UNIX_MICROS(
                FROM_UTC_TIMESTAMP(
                  TIMESTAMP_MICROS(
                    UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                  ),
                  'Europe/Berlin'
                )
              ) - (
                UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
              )
            ) > UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin'))
            AND UNIX_MICROS(
              FROM_UTC_TIMESTAMP(
                TIMESTAMP_MICROS(
                  UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
                    UNIX_MICROS(
                      FROM_UTC_TIMESTAMP(
                        TIMESTAMP_MICROS(
                          UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                        ),
                        'Europe/Berlin'
                      )
                    ) - (
                      UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                    )
                  )
                ),
                'Europe/Berlin'
              )
            ) = UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP))
            THEN TIMESTAMP_MICROS(
              UNIX_MICROS(CAST(`signup_date` AS TIMESTAMP)) - (
                UNIX_MICROS(
                  FROM_UTC_TIMESTAMP(
                    TIMESTAMP_MICROS(
                      UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                    ),
                    'Europe/Berlin'
                  )
                ) - (
                  UNIX_MICROS(TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')) + 86400000000
                )
              )
            )
            ELSE TO_UTC_TIMESTAMP(CAST(`signup_date` AS TIMESTAMP), 'Europe/Berlin')
          END
        )
      ) >= 31536000000000 /* 365d */
      AND CAST(EXTRACT(YEAR FROM `signup_date`) AS BIGINT) < 2025
      AND CAST(EXTRACT(DAYOFWEEK_ISO FROM FROM_UTC_TIMESTAMP(`last_seen_at`, 'Europe/Berlin')) AS BIGINT) >= 6,
      FALSE
    ) AS `segment:old_hands`,
    COALESCE(
      CASE
        WHEN `monetary` IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (ORDER BY `monetary` + CAST(0.0 AS DOUBLE) DESC) - 1
        ) * 100 < COUNT(`monetary`) OVER () * 10
      END,
      FALSE
    ) AS `segment:big_spenders`,
    COALESCE(
      CASE
        WHEN (
          CAST(`monetary` AS DOUBLE) / NULLIF(CAST(`frequency` AS DOUBLE), CAST(0.0 AS DOUBLE))
        ) IS NULL
        THEN NULL
        ELSE (
          RANK() OVER (
            ORDER BY (
              CAST(`monetary` AS DOUBLE) / NULLIF(CAST(`frequency` AS DOUBLE), CAST(0.0 AS DOUBLE))
            ) + CAST(0.0 AS DOUBLE) ASC NULLS LAST
          ) - 1
        ) * 200 < COUNT(
          CAST(`monetary` AS DOUBLE) / NULLIF(CAST(`frequency` AS DOUBLE), CAST(0.0 AS DOUBLE))
        ) OVER () * 25
      END,
      FALSE
    ) AS `segment:thrifty`,
    COALESCE(COALESCE(`email_consent`, FALSE) OR TRUE, FALSE) AS `segment:everyone`,
    COALESCE(`aggregate:0` >= 2, FALSE) AS `segment:repeat_shoes`,
    COALESCE(`aggregate:1` >= 2 AND NOT `aggregate:2`, FALSE) AS `segment:slipping`,
    COALESCE(`aggregate:3` > CAST(500 AS DOUBLE) AND `aggregate:4` > CAST(20 AS DOUBLE), FALSE) AS `segment:q4`,
    COALESCE(`aggregate:5` = 'web' AND `aggregate:6` <> 'web', FALSE) AS `segment:web_first`,
    COALESCE(`aggregate:7` >= 4 AND `aggregate:8` > ROUND(`aov`, 1), FALSE) AS `segment:explorers`,
    CASE
      WHEN `signup_date` >= CAST('2026-01-01' AS DATE)
      AND `signup_date` <= CAST('2026-01-31' AS DATE)
      THEN 'new'
      WHEN `last_order_date` >= CAST('2025-11-02' AS DATE)
      AND `last_order_date` <= CAST('2026-01-31' AS DATE)
      THEN 'active'
      WHEN `last_order_date` >= CAST('2025-01-31' AS DATE)
      AND `last_order_date` <= CAST('2026-01-31' AS DATE)
      THEN 'lapsing'
      ELSE 'lost'
    END AS `segment:lifecycle`
  FROM `joined`
), `layer:2` AS (
  SELECT
    *,
    COALESCE(`segment:big_spenders` AND NOT `segment:champions`, FALSE) AS `segment:win_back`
  FROM `layer:1`
), `holdouts` AS (
  SELECT
    *,
    CASE
      WHEN `segment:win_back`
      THEN LEFT(SHA2('spring-2026:win_back:' || CAST(`email` AS STRING), 256), 16) < '199999999999999a'
      ELSE FALSE
    END AS `holdout:win_back`,
    CASE
      WHEN `segment:everyone`
      THEN LEFT(SHA2('spring-2026:everyone:' || CAST(`email` AS STRING), 256), 16) < '0666666666666667'
      ELSE FALSE
    END AS `holdout:everyone`
  FROM `layer:2`
)
SELECT
  `email`,
  `segment:champions` AS `champions`,
  `segment:eu_email` AS `eu_email`,
  `segment:not_eu` AS `not_eu`,
  `segment:mid` AS `mid`,
  `segment:gmail` AS `gmail`,
  `segment:searched` AS `searched`,
  `segment:yogis` AS `yogis`,
  `segment:recent` AS `recent`,
  `segment:old_hands` AS `old_hands`,
  `segment:big_spenders` AS `big_spenders`,
  `segment:thrifty` AS `thrifty`,
  `segment:win_back` AND NOT `holdout:win_back` AS `win_back`,
  `segment:win_back` AND `holdout:win_back` AS `win_back__holdout`,
  `segment:everyone` AND NOT `holdout:everyone` AS `everyone`,
  `segment:everyone` AND `holdout:everyone` AS `everyone__holdout`,
  `segment:repeat_shoes` AS `repeat_shoes`,
  `segment:slipping` AS `slipping`,
  `segment:q4` AS `q4`,
  `segment:web_first` AS `web_first`,
  `segment:explorers` AS `explorers`,
  `segment:lifecycle` AS `lifecycle`
FROM `holdouts`
ORDER BY
  `email`;
