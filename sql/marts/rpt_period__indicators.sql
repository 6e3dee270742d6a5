-- one row per period, reporting group (bloc, sector, form) and indicator: the units' values
-- combined as the catalog's unit_aggregation says (sums, units with the flag, weighted means,
-- rates recomputed from their parts, and for distributions one row per value: org_rating__4)
with grouped_values as (
    select * from int_values_grouped
),

catalog as (
    select * from catalog_indicators
),

sums as (
    select
        period,
        group_type,
        group_value,
        indicator_code,
        sum(value) as value_sum,
        count(*) filter (where value = 1) as units_true,
        count(distinct unit_code) as units_reporting,
    from grouped_values
    group by all
),

weighted as (
    select
        v.period,
        v.group_type,
        v.group_value,
        c.code as indicator_code,
        sum(v.value * w.value) / nullif(sum(w.value), 0) as value,
        count(distinct v.unit_code) as units_reporting,
    from catalog as c
    join grouped_values as v on v.indicator_code = c.code
    join grouped_values as w
        on w.submission_id = v.submission_id
        and w.group_type = v.group_type
        and w.indicator_code = c.weight
    where c.unit_aggregation = 'weighted_mean'
    group by all
),

rate_parts as (
    select * from int_rate_parts
),

rates as (
    select
        period,
        group_type,
        group_value,
        indicator_code,
        100.0 * sum(numerator) / nullif(sum(denominator), 0) as value,
        count(distinct unit_code) as units_reporting,
    from rate_parts
    group by all
),

distributions as (
    select
        v.period,
        v.group_type,
        v.group_value,
        c.code || '__' || cast(cast(v.value as integer) as varchar) as indicator_code,
        count(distinct v.unit_code) as value,
        count(distinct v.unit_code) as units_reporting,
    from catalog as c
    join grouped_values as v on v.indicator_code = c.code
    where c.unit_aggregation = 'distribution'
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

final as (
    select * from plain
    union all select * from weighted
    union all select * from rates
    union all select * from distributions
)

select * from final
