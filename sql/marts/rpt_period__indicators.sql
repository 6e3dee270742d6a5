-- one row per period, reporting group (bloc, sector, form) and indicator: the units' values
-- combined as the catalog's unit_aggregation says (sums, units with the flag, weighted means,
-- rates recomputed from their parts, and for distributions one row per value: org_rating__4).
-- Each is first summed per (sector, form) cell, then over the cells a group holds: a unit is
-- in one cell, so sums and unit counts add up
with cells as (
    select * from {{ ref('int_values_cells') }}
),

groups as (
    select * from {{ ref('int_reporting_groups') }}
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }}
),

weighted_cells as (
    select * from {{ ref('int_weighted_cells') }}
),

rate_cells as (
    select * from {{ ref('int_rate_cells') }}
),

distribution_cells as (
    select * from {{ ref('int_distribution_cells') }}
),

sums as (
    select
        c.period,
        g.group_type,
        g.group_value,
        c.indicator_code,
        sum(c.value_sum) as value_sum,
        sum(c.units_true) as units_true,
        sum(c.units_reporting) as units_reporting,
    from cells as c
    join groups as g using (sector, form)
    group by all
),

weighted as (
    select
        w.period,
        g.group_type,
        g.group_value,
        w.indicator_code,
        sum(w.weighted_sum) / nullif(sum(w.weight_sum), 0) as value,
        sum(w.units_reporting) as units_reporting,
    from weighted_cells as w
    join groups as g using (sector, form)
    group by all
),

rates as (
    select
        r.period,
        g.group_type,
        g.group_value,
        r.indicator_code,
        100.0 * sum(r.numerator) / nullif(sum(r.denominator), 0) as value,
        sum(r.units_reporting) as units_reporting,
    from rate_cells as r
    join groups as g using (sector, form)
    group by all
),

distributions as (
    select
        d.period,
        g.group_type,
        g.group_value,
        d.indicator_code,
        sum(d.units) as value,
        sum(d.units) as units_reporting,
    from distribution_cells as d
    join groups as g using (sector, form)
    group by all
),

plain as (
    select
        s.period,
        s.group_type,
        s.group_value,
        s.indicator_code,
        case c.unit_aggregation when 'count_true' then s.units_true else s.value_sum end as value,
        s.units_reporting,
    from sums as s
    join catalog as c on c.code = s.indicator_code
    where c.unit_aggregation in ('sum', 'count_true')
),

combined as (
    select * from plain
    union all select * from weighted
    union all select * from rates
    union all select * from distributions
),

final as (
    select
        period,
        group_type,
        group_value,
        indicator_code,
        cast(value as double) as value,
        cast(units_reporting as bigint) as units_reporting,
    from combined
)

select * from final
