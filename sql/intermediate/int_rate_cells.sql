{{ config(materialized='view') }}

-- one row per period, sector, form and recomputed rate: the sums of the numerators and
-- denominators of the units that reported both parts (int_unit_rate_parts), and how many they are
with rate_parts as (
    select * from {{ ref('int_unit_rate_parts') }}
),

final as (
    select
        period,
        sector,
        form,
        indicator_code,
        sum(cast(numerator as decimal(38, 6))) as numerator,
        sum(cast(denominator as decimal(38, 6))) as denominator,
        count(*) as units_reporting,
    from rate_parts
    group by all
)

select * from final
