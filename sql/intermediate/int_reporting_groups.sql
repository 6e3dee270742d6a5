{{ config(materialized='view') }}

-- one row per sector and form of the registry and reporting group that holds their units: the
-- bloc, the sector, the form. The registry's key is the unit, so a unit has one sector and one
-- form: a group's figures are sums over the (sector, form) cells it holds
with units as (
    select * from {{ ref('stg_registry__units') }}
),

cells as (
    select distinct sector, form from units
),

final as (
    select sector, form, 'bloc' as group_type, 'bloc' as group_value from cells
    union all
    select sector, form, 'sector' as group_type, sector as group_value from cells
    union all
    select sector, form, 'form' as group_type, form as group_value from cells
)

select * from final
