-- one row per accepted submission, reporting group and rate indicator: the unit's numerator
-- and denominator, kept only where the unit reported both, so a unit that left a part blank
-- neither lowers nor raises the recomputed rate
with grouped_values as (
    select * from int_values_grouped
),

rates as (
    select * from catalog_indicators where unit_aggregation = 'recompute'
),

parts as (
    select
        v.submission_id,
        v.unit_code,
        v.period,
        v.ordinal,
        v.role,
        v.group_type,
        v.group_value,
        r.code as indicator_code,
        sum(v.value) filter (where list_contains(r.numerator, v.indicator_code)) as numerator,
        sum(v.value) filter (where list_contains(r.denominator, v.indicator_code)) as denominator,
    from rates as r
    join grouped_values as v
        on list_contains(list_concat(r.numerator, r.denominator), v.indicator_code)
    group by all
),

final as (
    select *
    from parts
    where numerator is not null and denominator is not null
)

select * from final
