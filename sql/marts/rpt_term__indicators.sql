-- one row per reporting group, indicator and measure: `start` (stocks of the baseline period,
-- the snapshot at the range's start), `cutoff` (values of the range's last period) and `term`
-- (flows summed over the range; rates of flows recomputed from the term's sums, never averaged)
with periods as (
    select * from run_periods
),

indicators as (
    select * from rpt_period__indicators
),

catalog as (
    select * from catalog_indicators
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
        sum(i.value) as value,
    from indicators as i
    join periods as p using (period)
    join catalog as c on c.code = i.indicator_code
    where p.role = 'range' and c.time_aggregation = 'flow'
    group by all
),

flow_rates as (
    select
        'term' as measure,
        f.group_type,
        f.group_value,
        c.code as indicator_code,
        100.0 * sum(f.value) filter (where list_contains(c.numerator, f.indicator_code))
            / nullif(sum(f.value) filter (where list_contains(c.denominator, f.indicator_code)), 0)
            as value,
    from catalog as c
    join flows as f on list_contains(list_concat(c.numerator, c.denominator), f.indicator_code)
    where c.time_aggregation = 'rate'
    group by all
    having count(*) filter (where list_contains(c.denominator, f.indicator_code)) > 0
),

final as (
    select * from snapshots
    union all select * from flows
    union all select * from flow_rates
)

select * from final
