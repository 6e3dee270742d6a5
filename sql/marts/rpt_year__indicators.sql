-- one row per calendar year of the range, reporting group, indicator and measure.
-- measure `value`: flows summed over the year's periods in the range (rates of flows recomputed
-- from those sums); stocks, weighted means, other rates and distributions (org_rating__4) as
-- they stand at the period that closes the year, when that period is in the range.
-- measure `units_positive`: for flows, the units whose sum over the year's periods is above 0.
-- `period` is the year's code (YYYY); `status` is closed when the period closing the year is in
-- the range, open when the range ends inside the year.
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }} where role = 'range'
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }}
),

indicators as (
    select * from {{ ref('rpt_period__indicators') }}
),

groups as (
    select * from {{ ref('int_reporting_groups') }}
),

flow_cells as (
    select * from {{ ref('int_flow_cells') }}
),

flow_rate_cells as (
    select * from {{ ref('int_flow_rate_cells') }}
),

period_years as (
    select period, cast(year(period_end) as varchar) as year, closes_year
    from periods
),

year_status as (
    select year, case when bool_or(closes_year) then 'closed' else 'open' end as status
    from period_years
    group by year
),

rates_of_flows as (
    select * from {{ ref('int_rates_of_flows') }}
),

flow_sums as (
    select
        f.year,
        g.group_type,
        g.group_value,
        f.indicator_code,
        'value' as measure,
        sum(f.value) as value,
        sum(f.units_reporting) as units_reporting,
    from flow_cells as f
    join groups as g using (sector, form)
    group by all
),

flow_positives as (
    select
        f.year,
        g.group_type,
        g.group_value,
        f.indicator_code,
        'units_positive' as measure,
        sum(f.units_positive) as value,
        sum(f.units_reporting) as units_reporting,
    from flow_cells as f
    join groups as g using (sector, form)
    group by all
),

flow_rates as (
    select
        u.year,
        g.group_type,
        g.group_value,
        u.indicator_code,
        'value' as measure,
        100.0 * sum(u.numerator) / nullif(sum(u.denominator), 0) as value,
        sum(u.units_reporting) as units_reporting,
    from flow_rate_cells as u
    join groups as g using (sector, form)
    group by all
),

snapshots as (
    select
        y.year,
        i.group_type,
        i.group_value,
        i.indicator_code,
        'value' as measure,
        i.value,
        i.units_reporting,
    from indicators as i
    join period_years as y using (period)
    left join catalog as c on c.code = i.indicator_code
    where y.closes_year
        and (
            c.code is null
            or (c.time_aggregation <> 'flow' and c.code not in (select code from rates_of_flows))
        )
),

combined as (
    select * from flow_sums
    union all select * from flow_positives
    union all select * from flow_rates
    union all select * from snapshots
),

final as (
    select
        c.year as period,
        s.status,
        c.group_type,
        c.group_value,
        c.indicator_code,
        c.measure,
        cast(c.value as double) as value,
        cast(c.units_reporting as bigint) as units_reporting,
    from combined as c
    join year_status as s using (year)
)

select * from final
