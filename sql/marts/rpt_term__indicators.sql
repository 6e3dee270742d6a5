-- one row per reporting group, indicator and measure: `start` (stocks of the baseline period,
-- the snapshot at the range's start), `cutoff` (values of the range's last period) and `term`
-- (flows summed over the range; rates of flows recomputed from the term's sums, never averaged)
with periods as (
    select * from {{ ref('stg_tonghop__run_periods') }}
),

indicators as (
    select * from {{ ref('rpt_period__indicators') }}
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }}
),

rate_cells as (
    select * from {{ ref('int_rate_cells') }}
),

groups as (
    select * from {{ ref('int_reporting_groups') }}
),

last_period as (
    select max(ordinal) as ordinal from periods where role = 'range'
),

snapshots as (
    select
        case when p.role = 'baseline' then 'start' else 'cutoff' end as measure,
        i.group_type,
        i.group_value,
        i.indicator_code,
        i.value,
    from indicators as i
    join periods as p using (period)
    where p.role = 'baseline' or p.ordinal = (select ordinal from last_period)
),

flows as (
    select
        'term' as measure,
        i.group_type,
        i.group_value,
        i.indicator_code,
        sum(cast(i.value as decimal(38, 6))) as value,
    from indicators as i
    join periods as p using (period)
    join catalog as c on c.code = i.indicator_code
    where p.role = 'range' and c.time_aggregation = 'flow'
    group by all
),

rates_of_flows as (
    select * from {{ ref('int_rates_of_flows') }}
),

flow_rates as (
    select
        'term' as measure,
        g.group_type,
        g.group_value,
        r.indicator_code,
        100.0 * sum(r.numerator) / nullif(sum(r.denominator), 0) as value,
    from rate_cells as r
    join groups as g using (sector, form)
    join periods as p using (period)
    where p.role = 'range' and r.indicator_code in (select code from rates_of_flows)
    group by all
),

final as (
    select * from snapshots
    union all select * from flows
    union all select * from flow_rates
)

select * from final
