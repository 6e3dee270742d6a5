{{ config(materialized='view') }}

-- one row per period, sector, form and value of a distribution indicator (org_rating__4): the
-- units that gave that value
with accepted_values as (
    select * from {{ ref('int_values_accepted') }}
),

catalog as (
    select * from {{ ref('stg_tonghop__catalog_indicators') }} where unit_aggregation = 'distribution'
),

final as (
    select
        v.period,
        v.sector,
        v.form,
        c.code || '__' || cast(cast(v.value as integer) as varchar) as indicator_code,
        count(*) as units,
    from catalog as c
    join accepted_values as v on v.indicator_code = c.code
    group by all
)

select * from final
