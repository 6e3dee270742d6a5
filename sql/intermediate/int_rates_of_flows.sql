{{ config(materialized='view') }}

-- one row per rate indicator whose numerator and denominator are all flows: those rates are
-- recomputed over a span of periods (a year, the term) from the summed flows
with catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }}
),

final as (
    select c.code
    from catalog as c
    where c.time_aggregation = 'rate'
        and not exists (
            select 1 from catalog as part
            where list_contains(list_concat(c.numerator, c.denominator), part.code)
                and part.time_aggregation <> 'flow'
        )
)

select * from final
