{{ config(materialized='view') }}

-- one row per calendar year of the range, sector, form and flow indicator: each unit's values
-- summed over the year's periods in the range, then over the cell's units; the units that
-- reported it and those whose sum is above 0 (a unit has one sector and one form)
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }} where role = 'range'
),

accepted_values as (
    select * from {{ ref('int_values_accepted') }}
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }} where time_aggregation = 'flow'
),

unit_flows as (
    select
        cast(year(p.period_end) as varchar) as year,
        v.sector,
        v.form,
        v.indicator_code,
        v.unit_code,
        sum(cast(v.value as decimal(38, 6))) as value,
    from accepted_values as v
    join periods as p using (period)
    join catalog as c on c.code = v.indicator_code
    group by all
),

final as (
    select
        year,
        sector,
        form,
        indicator_code,
        sum(value) as value,
        count(*) as units_reporting,
        count(*) filter (where value > 0) as units_positive,
    from unit_flows
    group by all
)

select * from final
