{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ delete_changed_units() }}",
) }}

-- one row per accepted submission and rate indicator: the unit's numerator and denominator,
-- kept only where the unit reported both, so a unit that left a part blank neither lowers nor
-- raises the recomputed rate
-- depends_on: {{ ref('int_units_changed') }}
with accepted_values as (
    select * from {{ ref('int_values_accepted') }}
    where {{ changed_units_only() }}
),

rates as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }} where unit_aggregation = 'recompute'
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
