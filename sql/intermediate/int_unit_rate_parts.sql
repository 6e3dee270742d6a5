-- partition: submission_id
-- one row per accepted submission and rate indicator: the unit's numerator and denominator,
-- kept only where the unit reported both, so a unit that left a part blank neither lowers nor
-- raises the recomputed rate
with accepted_values as (
    select * from int_values_accepted
),

rates as (
    select * from catalog_indicators where unit_aggregation = 'recompute'
),

rate_terms as (
    select code as indicator_code, unnest(numerator) as part, 'numerator' as side from rates
    union all
    select code as indicator_code, unnest(denominator) as part, 'denominator' as side from rates
),

parts as (
    select
        v.submission_id,
        v.unit_code,
        v.period,
        v.ordinal,
        v.role,
        v.sector,
        v.form,
        t.indicator_code,
        sum(v.value) filter (where t.side = 'numerator') as numerator,
        sum(v.value) filter (where t.side = 'denominator') as denominator,
    from rate_terms as t
    join accepted_values as v on v.indicator_code = t.part
    group by all
),

final as (
    select *
    from parts
    where numerator is not null and denominator is not null
)

select * from final
