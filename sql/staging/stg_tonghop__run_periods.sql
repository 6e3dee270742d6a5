{{ config(materialized='view') }}

-- one row per period of the run: the baseline (ordinal 0, role baseline) and the range (1..n)
with source as (
    select * from {{ source('tonghop', 'run_periods') }}
),

final as (
    select
        period,
        period_start,
        period_end,
        closes_year,
        ordinal,
        role,
    from source
)

select * from final
