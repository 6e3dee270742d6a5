{{ config(materialized='view') }}

-- one row per indicator of the catalog
with source as (
    select * from {{ source('tonghop', 'catalog_indicators') }}
),

final as (
    select
        code,
        label,
        value_type,
        time_aggregation,
        unit_aggregation,
        sectors,
        forms,
        numerator,
        denominator,
        weight,
        place,
    from source
)

select * from final
