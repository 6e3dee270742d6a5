{{ config(materialized='view') }}

-- one row per unit of the registry
with source as (
    select * from {{ source('tonghop', 'registry_units') }}
),

final as (
    select
        unit_code,
        name,
        sector,
        form,
        valid_from,
        valid_to,
    from source
)

select * from final
