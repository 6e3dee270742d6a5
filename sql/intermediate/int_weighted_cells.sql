{{ config(materialized='view') }}

-- one row per period, sector, form and weighted-mean indicator (income weighted by employees):
-- the sums of value × weight and of the weights over the units that reported both, and how many
-- they are; a reporting group divides the sums of its cells (rpt_period__indicators)
with accepted_values as (
    select * from {{ ref('int_values_accepted') }}
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }} where unit_aggregation = 'weighted_mean'
),

terms as (
    select code as indicator_code, code as part, 'value' as side from catalog
    union all
    select code as indicator_code, weight as part, 'weight' as side from catalog
),

unit_pairs as (
    -- a unit's value and weight side by side (one accepted value per submission and indicator)
    select
        v.period,
        v.sector,
        v.form,
        t.indicator_code,
        max(v.value) filter (where t.side = 'value') as value,
        max(v.value) filter (where t.side = 'weight') as weight,
    from terms as t
    join accepted_values as v on v.indicator_code = t.part
    group by v.submission_id, v.period, v.sector, v.form, t.indicator_code
),

final as (
    select
        period,
        sector,
        form,
        indicator_code,
        sum(cast(value * weight as decimal(38, 6))) as weighted_sum,
        sum(cast(weight as decimal(38, 6))) as weight_sum,
        count(*) as units_reporting,
    from unit_pairs
    where value is not null and weight is not null
    group by all
)

select * from final
