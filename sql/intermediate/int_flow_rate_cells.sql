{{ config(materialized='view') }}

-- one row per calendar year of the range, sector, form and rate of flows (int_rates_of_flows):
-- each unit's parts summed over the year's periods in the range, then over the cell's units,
-- and how many units they are
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }} where role = 'range'
),

rate_parts as (
    select * from {{ ref('int_unit_rate_parts') }}
),

rates_of_flows as (
    select * from {{ ref('int_rates_of_flows') }}
),

unit_rates as (
    select
        cast(year(p.period_end) as varchar) as year,
        r.sector,
        r.form,
        r.indicator_code,
        r.unit_code,
        sum(cast(r.numerator as decimal(38, 6))) as numerator,
        sum(cast(r.denominator as decimal(38, 6))) as denominator,
    from rate_parts as r
    join periods as p using (period)
    where r.indicator_code in (select code from rates_of_flows)
    group by all
),

final as (
    select
        year,
        sector,
        form,
        indicator_code,
        sum(numerator) as numerator,
        sum(denominator) as denominator,
        count(*) as units_reporting,
    from unit_rates
    group by all
)

select * from final
